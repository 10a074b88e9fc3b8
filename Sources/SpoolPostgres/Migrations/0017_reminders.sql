-- Appointment reminders (issue 15): each tenant's reminder settings, what each appointment's reminders
-- were last planned for, and which message a sent reminder became.

-- When reminders go out, in minutes before the start (at most 5 leads, each 1 minute to 30 days; an
-- empty list turns reminders off), the text they say (a template over {{first_name}}, {{summary}},
-- {{date}}, {{time}} and {{business_name}}, checked by the store when it is set), and the sender number
-- they go from. NULL: the tenant's first SMS sender number by creation, as is a number removed since
-- (the foreign key clears it, so a number given to another tenant later is never used).
ALTER TABLE tenants ADD COLUMN reminder_leads_minutes integer[] NOT NULL DEFAULT '{1440,120}'
    CHECK (cardinality(reminder_leads_minutes) <= 5 AND array_position(reminder_leads_minutes, NULL) IS NULL
           AND 1 <= ALL (reminder_leads_minutes) AND 43200 >= ALL (reminder_leads_minutes));
ALTER TABLE tenants ADD COLUMN reminder_template text NOT NULL
    DEFAULT 'Reminder from {{business_name}}: {{summary}} on {{date}} at {{time}}.'
    CHECK (length(reminder_template) BETWEEN 1 AND 1000);
ALTER TABLE tenants ADD COLUMN reminder_from text REFERENCES sender_numbers (number) ON DELETE SET NULL;

-- The version of the appointment its reminders were last planned for: its status and etag, as
-- `status || ' ' || coalesce(etag, '')`. Not the etag alone: a full sync's sweep cancels what the
-- provider no longer has without a new etag, and an event may come without one. NULL: never planned,
-- or to be planned again (the tenant's leads changed). `AppointmentReminders.reconcile` plans every
-- appointment whose version differs, and a sync where nothing changed finds none in this index.
ALTER TABLE appointments ADD COLUMN reminders_etag text;
CREATE INDEX appointments_reminders_stale ON appointments (connection_id, event_id)
    WHERE reminders_etag IS DISTINCT FROM (status || ' ' || coalesce(etag, ''));

-- The message a reminder became, once `sent` (its `job_id` is then the job that sent it).
ALTER TABLE appointment_reminders ADD COLUMN message_id text;
