-- Calendar sync and appointment reminders (issue 15): a tenant's connected calendars, the events synced
-- from them as appointments, and the reminder texts planned for each appointment.
--
-- A connection is never deleted: disconnecting marks it (`disconnected_at`), wipes its refresh token,
-- deletes its sync schedule and cancels its planned reminders. Kept rather than deleted because
-- reminder jobs already waiting in Redis, and push notifications still in flight, look their
-- connection up when they run: they must find it disconnected, not missing, and do nothing. The same
-- calendar can be connected again at once (uniqueness holds among live connections only), as a new
-- connection with a fresh sync.
CREATE TABLE calendar_connections (
    id                text        PRIMARY KEY,
    tenant_id         text        NOT NULL REFERENCES tenants (id),
    provider          text        NOT NULL DEFAULT 'google' CHECK (provider IN ('google')),
    calendar_id       text        NOT NULL CHECK (length(calendar_id) BETWEEN 1 AND 1024),
    -- ok: synced or waiting for its next sync; syncing: a pass is in progress (or died, and the next
    -- sync resumes it); needs_reauth: the provider refused the refresh token (invalid_grant), nothing
    -- is synced until it is reconnected; error: the last sync failed (`last_error`), the next may work.
    status            text        NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'syncing', 'needs_reauth', 'error')),
    -- Sealed with SPOOL_SECRET_KEY (SecretBox, context `calendar:<id>:refresh`): never plaintext here.
    -- Replaced when the provider rotates it; NULL once disconnected.
    refresh_token     text,
    -- The provider's nextSyncToken from the last complete pass; NULL: the next pass is a full sync.
    sync_token        text,
    -- Bumped when a pass starts. Every event a pass sees is stamped with its generation, so that a
    -- full pass can mark cancelled whatever it did not see (the provider no longer has it).
    sync_generation   bigint      NOT NULL DEFAULT 0,
    -- The pass in progress, NULL when none: when it started, the sync token it started from (NULL: a
    -- full pass), and the next page to fetch (NULL: its first). A pass cut short by a crash resumes
    -- from its saved page with the same generation; the new sync token is stored only at its end.
    pass_started_at   timestamptz,
    pass_sync_token   text,
    pass_page_token   text,
    last_synced_at    timestamptz,
    last_error        text,
    -- The push-notification channel (events.watch): its id and the token the provider echoes in
    -- X-Goog-Channel-Token, the provider's resource id (needed to stop it), and when it expires.
    watch_channel_id  text,
    watch_token       text,
    watch_resource_id text,
    watch_expires_at  timestamptz,
    -- The builtin schedule that syncs it periodically; NULL once deleted (by disconnecting, or by hand).
    schedule_id       text        REFERENCES schedules (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    disconnected_at   timestamptz,
    CHECK (disconnected_at IS NOT NULL OR refresh_token IS NOT NULL)
);
-- One live connection per calendar and tenant; a disconnected one does not block connecting it again.
CREATE UNIQUE INDEX calendar_connections_live ON calendar_connections (tenant_id, provider, calendar_id)
    WHERE disconnected_at IS NULL;
-- A push notification names its channel: one lookup, and a channel id belongs to one connection.
CREATE UNIQUE INDEX calendar_connections_channel ON calendar_connections (watch_channel_id)
    WHERE watch_channel_id IS NOT NULL;
-- Channels are renewed before they expire: the live ones, soonest first.
CREATE INDEX calendar_connections_watch_expiry ON calendar_connections (watch_expires_at)
    WHERE disconnected_at IS NULL AND watch_expires_at IS NOT NULL;

-- How often a tenant's calendars are synced, in seconds; NULL: the deployment's default
-- (SPOOL_CALENDAR_SYNC_EVERY, 5 minutes). Push notifications sync sooner.
ALTER TABLE tenants ADD COLUMN calendar_sync_every_seconds integer CHECK (calendar_sync_every_seconds BETWEEN 60 AND 86400);

-- One row per provider event, idempotent on (connection, event id): a page synced twice, or a pass
-- resumed after a crash, writes the same rows. Rows are never deleted: an event cancelled or deleted
-- at the provider, or missing from a full sync, becomes `cancelled`, so its reminders can be found and
-- cancelled. A cancellation the provider sent for an event never seen carries no times.
CREATE TABLE appointments (
    connection_id   text        NOT NULL REFERENCES calendar_connections (id),
    event_id        text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 1024),
    tenant_id       text        NOT NULL REFERENCES tenants (id),
    calendar_id     text        NOT NULL,
    etag            text,
    summary         text,
    starts_at       timestamptz,
    ends_at         timestamptz,
    -- The IANA zones the provider gave the start and end in; NULL: none given (all-day events).
    start_zone      text,
    end_zone        text,
    all_day         boolean     NOT NULL DEFAULT false,
    status          text        NOT NULL CHECK (status IN ('confirmed', 'tentative', 'cancelled')),
    -- Who the reminders go to: the event's private extended property `phone`, else the phone of the
    -- tenant's contact whose `email` (a custom field of the contact import) is one of its attendees'.
    contact_phone   text        CHECK (contact_phone ~ '^\+[1-9][0-9]{6,14}$'),
    contact_id      bigint      REFERENCES contacts (id),
    -- The sync generation of the last pass that saw it (calendar_connections.sync_generation).
    seen_generation bigint      NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, event_id),
    CHECK (status = 'cancelled' OR starts_at IS NOT NULL)
);
-- `spool calendar show` and GET /v1/calendars count a connection's appointments that are not cancelled.
CREATE INDEX appointments_live ON appointments (connection_id) WHERE status <> 'cancelled';
-- Reminders are planned from a connection's confirmed appointments still ahead, by start.
CREATE INDEX appointments_upcoming ON appointments (connection_id, starts_at) WHERE status = 'confirmed';
-- Deleting a contact checks that no appointment still points at it.
CREATE INDEX appointments_contact_id ON appointments (contact_id) WHERE contact_id IS NOT NULL;
-- Attendees are matched to contacts by the `email` custom field, case-insensitively, per tenant.
CREATE INDEX contacts_tenant_email ON contacts (tenant_id, lower(custom ->> 'email')) WHERE custom ? 'email';

-- One reminder per appointment and lead time (minutes before the start). The row is the reminder's
-- identity: a sync that moves an event moves its rows' `due_at` (and their delayed jobs), a cancelled
-- event cancels them, and a job about to send checks that its row is still `scheduled` for the time it
-- was planned for, then marks it `sent` in the same transaction, so a reminder goes out at most once.
CREATE TABLE appointment_reminders (
    connection_id text        NOT NULL,
    event_id      text        NOT NULL,
    lead_minutes  integer     NOT NULL CHECK (lead_minutes BETWEEN 1 AND 43200),
    due_at        timestamptz NOT NULL,
    -- The delayed job that sends it, once known.
    job_id        text,
    status        text        NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'sent', 'cancelled')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, event_id, lead_minutes),
    FOREIGN KEY (connection_id, event_id) REFERENCES appointments (connection_id, event_id)
);
