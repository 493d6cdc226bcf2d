"""Seniority and department from a job title, for the buyer persona.

CRM contact exports rarely fill seniority and department, but every contact has a title:
"VP of Sales" is a VP in Sales, "Sr. Software Engineer" an individual contributor in
Engineering. Rules are ordered word patterns, checked first match wins.
"""

from __future__ import annotations

import re

from icpkit.ingest.normalize.blanks import is_blank

SENIORITIES = ("Owner", "C-level", "VP", "Head", "Director", "Manager", "Individual contributor")

_SENIORITY_RULES: tuple[tuple[str, str], ...] = (
    # 'Partner' alone is a firm's partner; 'Talent Partner' is not an owner.
    (
        "Owner",
        r"\b(owner|founder|co-?founder|proprietor|managing partner|general partner)\b|^partner$",
    ),
    (
        "C-level",
        # A vice president is a VP, not a president.
        r"\b(ceo|cfo|cto|coo|cmo|cro|cio|ciso|cpo|cso|cco|chief|(?<!vice )(?<!vice-)president"
        r"|managing director)\b",
    ),
    ("VP", r"\b(svp|evp|avp|vp|vice[- ]president)\b"),
    ("Head", r"\bhead\b"),
    ("Director", r"\b(director|dir)\b"),
    ("Manager", r"\b(manager|mgr|lead|team lead|supervisor)\b"),
)

DEPARTMENTS = (
    "Sales",
    "Marketing",
    "Customer Success",
    "Engineering",
    "Product",
    "IT",
    "Finance",
    "HR",
    "Operations",
    "Legal",
    "Executive",
)

_DEPARTMENT_RULES: tuple[tuple[str, str], ...] = (
    # Revenue and sales operations run the go-to-market systems: Operations, not Sales.
    ("Operations", r"\b(revops|rev ops|revenue operations|sales operations|sales ops)\b"),
    ("Sales", r"\b(sales|sdr|bdr|account executive|ae|business development|revenue|cro)\b"),
    ("Marketing", r"\b(marketing|demand gen(eration)?|growth|brand|content|seo|cmo)\b"),
    ("Customer Success", r"\b(customer success|csm|account manager|support|onboarding)\b"),
    ("Operations", r"\b(revops|sales ops|operations|ops|coo|supply chain|logistics)\b"),
    ("Engineering", r"\b(engineer(ing)?|developer|devops|software|architect|cto|sre)\b"),
    ("Product", r"\b(product|ux|ui|designer|design|cpo)\b"),
    ("IT", r"\b(it|information technology|cio|ciso|security|systems administrator|sysadmin)\b"),
    ("Finance", r"\b(finance|financial|cfo|accounting|accountant|controller|treasurer)\b"),
    ("HR", r"\b(hr|human resources|people|talent|recruit(er|ing)?|chro)\b"),
    ("Legal", r"\b(legal|counsel|attorney|lawyer|compliance)\b"),
    ("Executive", r"\b(ceo|president|founder|co-?founder|owner|managing director|chief)\b"),
)

_COMPILED_SENIORITY = tuple((name, re.compile(p)) for name, p in _SENIORITY_RULES)
_COMPILED_DEPARTMENT = tuple((name, re.compile(p)) for name, p in _DEPARTMENT_RULES)


def _clean(title: str) -> str:
    return re.sub(r"[^a-z0-9&/ -]+", " ", title.casefold()).replace("&", " and ")


def _first_match(rules: tuple[tuple[str, re.Pattern[str]], ...], title: str) -> str | None:
    text = _clean(title)
    return next((name for name, pattern in rules if pattern.search(text)), None)


def seniority_of(title: str) -> str | None:
    """Seniority of a job title: 'VP of Sales' -> 'VP', 'Sr. Data Analyst' -> 'Individual
    contributor'; None for a blank title."""
    if is_blank(title):
        return None
    return _first_match(_COMPILED_SENIORITY, title) or "Individual contributor"


def department_of(title: str) -> str | None:
    """Department of a job title: 'Head of Demand Generation' -> 'Marketing'; None when no
    rule matches (kept as unknown rather than guessed)."""
    if is_blank(title):
        return None
    return _first_match(_COMPILED_DEPARTMENT, title)
