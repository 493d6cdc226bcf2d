"""Analysis of closed deals: the frame, statistics, tiers, segments, won vs lost."""
