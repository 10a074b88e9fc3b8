-- `GET /v1/conversations` lists a tenant's conversations most recently active first, paged by
-- (updated_at, id): this index reads each page in order instead of sorting the tenant's conversations.
CREATE INDEX conversations_tenant_updated ON conversations (tenant_id, updated_at DESC, id DESC);
