-- What the staff pages add: managers' verdicts on tags, follow-ups marked done, the figures the
-- dashboard groups by (per-recording metrics, per-customer objections and competitors), and
-- the indexes the pages' queries need at 10,000 customers and 50,000 recordings.

-- One verdict per customer and tag, kept apart from the analyses so re-analysis keeps it.
-- The category and rule are the tag's when the verdict was given.
CREATE TABLE tag_corrections (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected')),
    category TEXT NOT NULL,
    rule TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, tag_id)
);

-- The follow-up (next action and due date, as `due action`) a salesperson marked done. The
-- customer is back in the queue once their profile names another one.
ALTER TABLE customers ADD COLUMN follow_up_done TEXT;

-- From the analysis when it is committed, so the dashboard need not parse documents.
ALTER TABLE recordings ADD COLUMN duration_s DOUBLE PRECISION;
ALTER TABLE recordings ADD COLUMN customer_talk_share DOUBLE PRECISION;

-- The open objections and the competitors a customer's profile names (refreshed with it).
CREATE TABLE customer_mentions (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('objection', 'competitor')),
    value TEXT NOT NULL
);
CREATE INDEX customer_mentions_customer ON customer_mentions (customer_id);

CREATE INDEX recordings_dealership_time ON recordings (dealership_id, recorded_at);
CREATE INDEX recordings_salesperson_time ON recordings (salesperson_id, recorded_at);
CREATE INDEX customers_salesperson ON customers (salesperson_id, priority_score);
