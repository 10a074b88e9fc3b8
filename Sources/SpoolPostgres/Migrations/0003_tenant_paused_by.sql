-- Who pulled a tenant's kill switch: 'operator' (the operator key or the CLI) or 'tenant' (the
-- tenant's own admin key). A tenant may not lift an operator's pause.
ALTER TABLE tenants ADD COLUMN paused_by text CHECK (paused_by IN ('operator', 'tenant'));
