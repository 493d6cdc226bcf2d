"""CRM sync: read companies, deals and contacts from a CRM's API into the workspace, and
write the ICP's scores back into the CRM's records (see docs/crm.md)."""
