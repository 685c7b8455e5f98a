-- One table that dominates the database, as an audit log or a visit-event stream does in
-- production: about :gb GB of synthetic events on the agency's clients, with its primary key,
-- one more index and a foreign key. Loaded by `scripts/sandbox seed --big-table GB`, for the
-- one-huge-table benchmark; no real names, no real data.
CREATE TABLE agency.audit_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id   bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    action      text NOT NULL,
    detail      text NOT NULL
);

-- about 200 bytes a row on disk: 5 million rows a gigabyte
INSERT INTO agency.audit_events (client_id, occurred_at, action, detail)
SELECT c.ids[1 + (g % array_length(c.ids, 1))],
       timestamptz '2026-01-01 00:00:00+00' + g * interval '3 seconds',
       (ARRAY['viewed', 'updated', 'printed', 'signed', 'exported'])[1 + g % 5],
       'synthetic event ' || g || ' ' || md5(g::text) || ' ' || md5((g * 7)::text) || ' ' || md5((g * 13)::text)
FROM generate_series(1, (:gb * 5000000)::bigint) AS g,
     (SELECT array_agg(id ORDER BY id) AS ids FROM agency.clients) AS c;

CREATE INDEX audit_events_client_time_idx ON agency.audit_events (client_id, occurred_at);
ALTER TABLE agency.audit_events
    ADD CONSTRAINT audit_events_client_id_fkey FOREIGN KEY (client_id) REFERENCES agency.clients;
