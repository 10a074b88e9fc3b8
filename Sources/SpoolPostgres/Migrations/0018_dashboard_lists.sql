-- The dashboard's lists (issue 17) read newest first by keyset, one index read per page, never a sort
-- of every row: a tenant's campaigns, every tenant's campaigns, and every tenant's conversations (a
-- tenant's own are read from conversations_tenant_updated, migration 0011).
-- (tenant_id, created_at, id) replaces (tenant_id, created_at): it orders campaigns made in the same
-- microsecond too, and serves what the old one served.
CREATE INDEX campaigns_tenant_created_id ON campaigns (tenant_id, created_at, id);
DROP INDEX campaigns_tenant_id;
CREATE INDEX campaigns_created_id ON campaigns (created_at, id);
CREATE INDEX conversations_updated ON conversations (updated_at DESC, id DESC);
