-- wa-media schema version 1: the shared queue of pending media and the media index.
-- Documented in docs/scaling.md ("The schema"). Applied by refinery under a pg advisory lock.

-- One row per media id: the pending entry, its holder's lease, and how it ended.
CREATE TABLE wa_media_queue (
    media_id      text PRIMARY KEY,
    -- pending: waiting (until not_before_ms); taken: held under a lease; failed; done: saved.
    state         text NOT NULL CHECK (state IN ('pending', 'taken', 'failed', 'done')),
    -- The spool entry (wa_media_webhook::SpoolEntry), attempts and last error included.
    entry         jsonb NOT NULL,
    -- A newer digest claim that arrived while the entry was taken: it replaces the entry when
    -- the holder puts it back or fails it.
    next_entry    jsonb,
    not_before_ms bigint NOT NULL DEFAULT 0,
    -- The holder: an instance id and a token per claim; the lease is renewed while held.
    lease_owner   text,
    lease_token   bigint,
    lease_until   timestamptz,
    failure       text,
    -- Where it was saved and what was verified (wa_media_webhook::SavedOutcome), when done.
    saved         jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- The claim's scan: the due pending entries, oldest retry time first.
CREATE INDEX wa_media_queue_due ON wa_media_queue (not_before_ms) WHERE state = 'pending';
-- The rescuer's scan: leases that may have expired.
CREATE INDEX wa_media_queue_leases ON wa_media_queue (lease_until) WHERE state = 'taken';
CREATE INDEX wa_media_queue_failed ON wa_media_queue (updated_at) WHERE state = 'failed';

-- The media index: one row per saved media (or message Meta could not take), the fields of
-- wa_media_webhook::SavedRecord, keyed like its lines in index.jsonl (SavedRecord::key).
CREATE TABLE wa_media_index (
    key              text PRIMARY KEY,
    v                integer NOT NULL,
    status           text NOT NULL CHECK (status IN ('saved', 'failed')),
    media_id         text,
    message_id       text,
    source           text,
    "from"           text,
    user_id          text,
    parent_user_id   text,
    username         text,
    kind             text,
    mime_type        text,
    file_size        bigint,
    sha256           text,
    caption          text,
    filename         text,
    path             text,
    received_at      bigint NOT NULL,
    saved_at         bigint,
    error            jsonb,
    unsupported_type text,
    -- The record exactly as the sink wrote it (what `media show --json` prints).
    record           jsonb NOT NULL,
    inserted_at      timestamptz NOT NULL DEFAULT now()
);
-- "What did this customer send (since …)": by phone, BSUID, parent BSUID or username.
CREATE INDEX wa_media_index_from ON wa_media_index ("from", received_at);
CREATE INDEX wa_media_index_user_id ON wa_media_index (user_id, received_at);
CREATE INDEX wa_media_index_parent_user_id ON wa_media_index (parent_user_id, received_at);
CREATE INDEX wa_media_index_username ON wa_media_index (username, received_at);
-- "What arrived since …", "what failed".
CREATE INDEX wa_media_index_received_at ON wa_media_index (received_at);
CREATE INDEX wa_media_index_status ON wa_media_index (status, received_at);
-- A media by id (`media show`), a message by id, a file by digest.
CREATE UNIQUE INDEX wa_media_index_media_id ON wa_media_index (media_id) WHERE media_id IS NOT NULL;
CREATE INDEX wa_media_index_message_id ON wa_media_index (message_id);
CREATE INDEX wa_media_index_sha256 ON wa_media_index (sha256);
