-- When a recording's audio was deleted by the retention sweep (its object_key is then NULL and
-- its analysis stays).
ALTER TABLE recordings ADD COLUMN audio_expired_at BIGINT;

-- Resumable uploads (the tus protocol, src/web/uploads.rs): what the finished upload will be
-- recorded as. The bytes received so far are a staging file in the data directory; the
-- upload's offset is that file's length.
CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    dealership_id TEXT NOT NULL REFERENCES dealerships (id) ON DELETE CASCADE,
    -- The device or user that created it; only they may continue it.
    source_id TEXT NOT NULL,
    length BIGINT NOT NULL,
    idempotency_key TEXT,
    content_type TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    sha256 TEXT,
    customer_phone TEXT,
    customer_name TEXT,
    customer_id TEXT,
    -- Set when the upload is complete and recorded.
    recording_id TEXT REFERENCES recordings (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    UNIQUE (dealership_id, source_id, idempotency_key)
);
