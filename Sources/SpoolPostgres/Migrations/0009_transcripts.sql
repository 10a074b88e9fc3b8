-- Transcripts of inbound voice notes (the `transcription` kind, one job per audio attachment).
--
-- `transcripts` holds one entry per audio attachment that was transcribed or given up on, by its
-- position in `media`: {"index", "status": "done", "text", "duration_seconds", "cost_millicents",
-- "model", "job_id"} or {"index", "status": "failed", "reason", "job_id"}. A cost is in thousandths of
-- a cent, rounded up: a 10-second note at 0.6 cents a minute costs 100, which whole cents would round
-- to 1 and overstate tenfold.
--
-- `transcription_status` sums them up for the message: 'none' (no audio attachment, or a keyword,
-- which never reaches the AI), 'pending' (a transcription is owed: set with the message when it has
-- audio), 'done' (every audio attachment has its text), 'failed' (every one has an entry and at least
-- one could not be transcribed: transcription_failed, with the reason in its entry).
ALTER TABLE inbound_messages
    ADD COLUMN transcripts jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(transcripts) = 'array'),
    ADD COLUMN transcription_status text NOT NULL DEFAULT 'none'
        CHECK (transcription_status IN ('none', 'pending', 'done', 'failed'));
