-- Generates a deterministic, entirely fictitious agency into a database that has schema.sql.
--
-- psql variables:
--   scale      1 is about 60 MB (1,150 clients, 290 employees, ~78k visits); ~51 MB more per step, so 40 is over 2 GB
--   tz         the region's local zone: visit times are laid out in it
--   region     us-can or aus-int: picks phone formats and place names
--   seed_date  "today" in tz; visits run from 30 days before it to 14 days after
--
-- Every value comes from a hash of its row's key, so the same inputs give the same data.
-- Every client name and every note carries the marker SYNTH, so tests can grep for leaks.
-- Phone numbers are in ranges reserved for fiction (NANP 555-01xx, Australian 02 5550 xxxx).

\set ON_ERROR_STOP on
BEGIN;
SET LOCAL search_path = agency, pg_temp;

-- h(k, salt): a stable pseudo-random non-negative bigint
CREATE FUNCTION pg_temp.h(k bigint, salt int) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS $$ SELECT ('x' || substr(md5(k || ':' || salt), 1, 15))::bit(60)::bigint $$;
CREATE FUNCTION pg_temp.pick(a text[], k bigint, salt int) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT a[1 + pg_temp.h(k, salt) % array_length(a, 1)] $$;

CREATE TEMP TABLE p ON COMMIT DROP AS SELECT
    :scale::int AS scale,
    :'tz'::text AS tz,
    :'region'::text AS region,
    :'seed_date'::date AS today,
    290 * :scale::int AS employees,
    1150 * :scale::int AS clients,
    ARRAY['Aubrin','Belisa','Corvin','Dalia','Eskel','Fiora','Gideon','Halvie','Isolde','Łukasz',
          'Ngāio','Lisette','Maëlis','Nikan','Oriel','Pernille','Quenby','Rasmus','Solène','Tobiah',
          'Ulric','Valka','Wendeline','Xavian','Ysolde','Zoë','Anouk','Bastien','Cerys','Darian'] AS firsts,
    ARRAY['Ashgrove','Brambleton','Copperfield','Dunmore','Elderwood','Fernsby','Glenhollow','Hartwell',
          'Ivybridge','Juniper','Kettleby','Larkspur','Marlowe','Netherby','Oakhurst','Pennywhistle',
          'Quarrington','Rookwood','Silverdale','Thistlewood','Underhill','Valebrook','Willowmere','Yarrow'] AS lasts,
    ARRAY['Lantern Way','Heron Crescent','Millstone Road','Quarry Lane','Orchard Row','Tinker Street',
          'Bellwether Avenue','Foxglove Court','Kingfisher Drive','Saltmarsh Road'] AS streets,
    CASE WHEN :'region' = 'aus-int'
         THEN ARRAY['Wattle Creek','Banksia Heights','Coralview','Emu Flat']
         ELSE ARRAY['Maple Hollow','Cedar Falls','Birchmount','Loon Harbour'] END AS cities,
    CASE WHEN :'region' = 'aus-int' THEN 'NSW' ELSE 'ON' END AS province;

CREATE FUNCTION pg_temp.phone(k bigint, salt int) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN (SELECT region FROM p) = 'aus-int'
                THEN '+61 2 5550 ' || lpad((pg_temp.h(k, salt) % 10000)::text, 4, '0')
                ELSE '+1 613-555-01' || lpad((pg_temp.h(k, salt) % 100)::text, 2, '0') END $$;

SELECT agency.ensure_visit_partitions(today - 30, today + 14) FROM p;

INSERT INTO branches (id, name, time_zone, phone, address, manager_id)
SELECT b, 'Branch ' || (ARRAY['North','South','East','West'])[b], tz, pg_temp.phone(b, 1),
       (100 + b) || ' ' || pg_temp.pick(streets, b, 2) || ', ' || cities[b], b
FROM p, generate_series(1, 4) b;

INSERT INTO employees (id, branch_id, employee_number, first_name, last_name, role, status,
                       phone, email, hired_on, skills, updated_at)
SELECT e, 1 + (e - 1) % 4, 'E' || lpad(e::text, 6, '0'),
       pg_temp.pick(firsts, e, 10), pg_temp.pick(lasts, e, 11),
       CASE WHEN e <= 4 THEN 'coordinator'
            ELSE (ARRAY['personal_support_worker','personal_support_worker','personal_support_worker',
                        'registered_nurse','practical_nurse','therapist'])[1 + pg_temp.h(e, 12) % 6] END::employee_role,
       CASE WHEN pg_temp.h(e, 13) % 20 = 0 THEN 'on_leave' ELSE 'active' END::employment_status,
       pg_temp.phone(e, 14), 'e' || e || '@staff.example.org',
       today - (200 + pg_temp.h(e, 15) % 3000)::int,
       (ARRAY['{dementia care,lift and transfer}', '{wound care,palliative}',
              '{medication administration,diabetes}', '{french,bathing}'])[1 + pg_temp.h(e, 16) % 4]::text[],
       today::timestamp AT TIME ZONE tz
FROM p, generate_series(1, p.employees) e;

INSERT INTO employee_availability (employee_id, weekday, starts_at, ends_at, effective_from, effective_to)
SELECT e, d, time '07:00' + (pg_temp.h(e * 10 + d, 20) % 4) * interval '1 hour',
       time '15:00' + (pg_temp.h(e * 10 + d, 21) % 5) * interval '1 hour',
       today - 90, CASE WHEN pg_temp.h(e, 22) % 10 = 0 THEN today + 60 END
FROM p, generate_series(1, p.employees) e, generate_series(1, 7) d
WHERE pg_temp.h(e * 10 + d, 23) % 7 < 5;

INSERT INTO clients (id, branch_id, client_number, first_name, last_name, date_of_birth, phone,
                     address_line, city, province, postal_code, emergency_contact, preferences,
                     photo, status, notes, updated_at)
SELECT c, 1 + (c - 1) % 4, 'C' || lpad(c::text, 7, '0'),
       pg_temp.pick(firsts, c, 30), pg_temp.pick(lasts, c, 31) || '-SYNTH',
       date '1930-01-01' + (pg_temp.h(c, 32) % 20000)::int,
       pg_temp.phone(c, 33),
       (1 + pg_temp.h(c, 34) % 980) || ' ' || pg_temp.pick(streets, c, 35),
       pg_temp.pick(cities, c, 36), province,
       CASE WHEN region = 'aus-int' THEN (2000 + pg_temp.h(c, 37) % 800)::text
            ELSE 'K' || (pg_temp.h(c, 37) % 10) || 'A ' || (pg_temp.h(c, 38) % 10) || 'B' || (pg_temp.h(c, 39) % 10) END,
       jsonb_build_object('name', pg_temp.pick(firsts, c, 40) || ' ' || pg_temp.pick(lasts, c, 41) || ' SYNTH',
                          'relationship', pg_temp.pick(ARRAY['daughter','son','spouse','neighbour','friend'], c, 42),
                          'phone', pg_temp.phone(c, 43)),
       jsonb_build_object('language', CASE WHEN pg_temp.h(c, 44) % 4 = 0 THEN 'fr' ELSE 'en' END,
                          'pets', pg_temp.h(c, 45) % 3 = 0,
                          'key_safe', CASE WHEN pg_temp.h(c, 46) % 2 = 0 THEN 'code with coordinator' END),
       CASE WHEN pg_temp.h(c, 47) % 10 = 0 THEN decode(md5('photo' || c), 'hex') END,
       CASE WHEN pg_temp.h(c, 48) % 25 = 0 THEN 'on_hold' ELSE 'active' END,
       'SYNTH client note: ' || pg_temp.pick(ARRAY['prefers morning visits','door sticks, knock loudly',
            'hard of hearing, speak clearly','daughter visits on weekends','uses a walker indoors'], c, 49),
       today::timestamp AT TIME ZONE tz
FROM p, generate_series(1, p.clients) c;

INSERT INTO "Client Contacts" (client_id, name, relationship, phone, is_primary)
SELECT c, pg_temp.pick(firsts, c, 50) || ' ' || pg_temp.pick(lasts, c, 51) || ' SYNTH',
       pg_temp.pick(ARRAY['daughter','son','spouse','power of attorney','neighbour'], c, 52),
       pg_temp.phone(c, 53), true
FROM p, generate_series(1, p.clients) c;

INSERT INTO services (id, code, name, unit, unit_rate) VALUES
    (1, 'PSW', 'Personal support', 'hour', 38.50),
    (2, 'RN', 'Nursing visit', 'visit', 112.00),
    (3, 'RESP', 'Respite care', 'hour', 35.25),
    (4, 'HMK', 'Homemaking', 'hour', 31.75),
    (5, 'PT', 'Physiotherapy', 'visit', 125.00),
    (6, 'OT', 'Occupational therapy', 'visit', 125.00),
    (7, 'MED', 'Medication reminder', 'visit', 24.10),
    (8, 'COMP', 'Companionship', 'hour', 29.90);

INSERT INTO client_services (client_id, service_id, hours_per_week, funder, starts_on, ends_on)
SELECT c, 1 + pg_temp.h(c * 10 + k, 60) % 8, (2 + pg_temp.h(c * 10 + k, 61) % 20)::numeric / 2,
       pg_temp.pick(ARRAY['Public health plan','Private pay','Veterans program','Insurance'], c * 10 + k, 62),
       today - (30 + pg_temp.h(c * 10 + k, 63) % 700)::int,
       CASE WHEN pg_temp.h(c * 10 + k, 64) % 8 = 0 THEN today + 90 END
FROM p, generate_series(1, p.clients) c, generate_series(1, 3) k
WHERE k <= 1 + pg_temp.h(c, 65) % 3;

INSERT INTO client_risks (client_id, category, severity, description, identified_on)
SELECT c, r.category, (ARRAY['low','moderate','high','severe'])[1 + pg_temp.h(c * 10 + k, 71) % 4]::severity,
       r.description, today - (pg_temp.h(c * 10 + k, 72) % 400)::int
FROM p, generate_series(1, p.clients) c, generate_series(1, 2) k,
     LATERAL (SELECT (ARRAY['Falls','Wandering','Skin integrity','Choking','Oxygen in use','Aggressive dog on site'])[i] AS category,
                     (ARRAY['Two falls in six months; keep walkways clear','May leave home unattended; check door alarm',
                            'Pressure area on sacrum; reposition every 2 hours','Thin liquids only; sit upright to eat',
                            'Home oxygen: no open flames','Ask family to secure the dog before entering'])[i] AS description
              FROM (SELECT 1 + pg_temp.h(c * 10 + k, 70) % 6 AS i) x) r
WHERE k <= pg_temp.h(c, 73) % 3;

INSERT INTO client_allergies (client_id, allergen, reaction, severity)
SELECT c, pg_temp.pick(ARRAY['Penicillin','Latex','Peanuts','Sulfa drugs','Shellfish','Codeine','Bee stings'], c * 10 + k, 80),
       pg_temp.pick(ARRAY['Hives','Anaphylaxis','Rash','Swelling','Nausea'], c * 10 + k, 81),
       (ARRAY['low','moderate','high','severe'])[1 + pg_temp.h(c * 10 + k, 82) % 4]::severity
FROM p, generate_series(1, p.clients) c, generate_series(1, 2) k
WHERE k <= pg_temp.h(c, 83) % 3;

-- Free text a spreadsheet would run as a formula (CSV injection, OWASP), on the first client
-- still in care: export.spreadsheet_safe must guard both cells.
INSERT INTO client_allergies (client_id, allergen, reaction, severity)
SELECT min(id), '=HYPERLINK("http://example.invalid","SYNTH")', '-see the care plan', 'low'
FROM clients WHERE status <> 'discharged';

INSERT INTO supplies (id, sku, name, kind)
SELECT s, 'SKU-' || lpad(s::text, 4, '0'), n, CASE WHEN s <= 8 THEN 'equipment' ELSE 'supply' END::supply_kind
FROM unnest(ARRAY['Hospital bed','Mechanical lift','Walker','Wheelchair','Commode','Shower chair',
                  'Oxygen concentrator','Bed rail','Incontinence briefs','Gauze pads','Nitrile gloves',
                  'Blood glucose strips','Catheter kit','Barrier cream','Wound dressing','Thickener powder'])
     WITH ORDINALITY AS t(n, s);

INSERT INTO client_supplies (client_id, supply_id, quantity, serial_number, assigned_on, returned_on)
SELECT c, 1 + pg_temp.h(c * 10 + k, 90) % 16, 1 + pg_temp.h(c * 10 + k, 91) % 10,
       CASE WHEN pg_temp.h(c * 10 + k, 90) % 16 < 8 THEN 'SN' || pg_temp.h(c * 10 + k, 92) % 1000000 END,
       today - (pg_temp.h(c * 10 + k, 93) % 300)::int,
       CASE WHEN pg_temp.h(c * 10 + k, 94) % 12 = 0 THEN today - 1 END
FROM p, generate_series(1, p.clients) c, generate_series(1, 2) k
WHERE k <= pg_temp.h(c, 95) % 3;

INSERT INTO care_plans (id, client_id, status, started_on, reviewed_on, goals)
SELECT c, c, 'active', today - (60 + pg_temp.h(c, 100) % 600)::int, today - (pg_temp.h(c, 101) % 60)::int,
       'SYNTH care goals: ' || pg_temp.pick(ARRAY['remain safely at home','regain strength after hospital stay',
            'manage diabetes independently','maintain skin integrity','reduce caregiver strain'], c, 102)
FROM p, generate_series(1, p.clients) c;

INSERT INTO adl_tasks (id, care_plan_id, category, title, instructions, assistance, times_per_day)
SELECT (c - 1) * 4 + k, c, t.category::adl_category, t.title, t.instructions,
       pg_temp.pick(ARRAY['independent','supervision','partial','full'], c * 10 + k, 111), 1 + pg_temp.h(c * 10 + k, 112) % 3
FROM p, generate_series(1, p.clients) c, generate_series(1, 4) k,
     LATERAL (SELECT (ARRAY['bathing','dressing','grooming','toileting','transferring','mobility','feeding','continence'])[i] AS category,
                     (ARRAY['Assist with shower','Help with dressing','Hair and oral care','Toileting assistance',
                            'Bed to chair transfer','Short walk with walker','Meal set-up and feeding','Change briefs'])[i] AS title,
                     (ARRAY['Use shower chair; check water temperature','Lay out clothes; encourage independence',
                            'Soft toothbrush; check dentures','Assist to commode; privacy','Use gait belt; two-step pivot',
                            'Walk hallway twice with walker','Cut food small; thickened fluids','Check skin; apply barrier cream'])[i] AS instructions
              FROM (SELECT 1 + pg_temp.h(c * 10 + k, 110) % 8 AS i) x) t;

INSERT INTO medications (client_id, name, dose, route, frequency, given_at, prescriber, is_prn, started_on, ended_on, is_active)
SELECT c, pg_temp.pick(ARRAY['Metformin','Lisinopril','Atorvastatin','Levothyroxine','Amlodipine','Omeprazole',
                             'Donepezil','Furosemide','Warfarin','Acetaminophen'], c * 10 + k, 120),
       pg_temp.pick(ARRAY['5 mg','10 mg','20 mg','500 mg','1 tablet','2 puffs'], c * 10 + k, 121),
       pg_temp.pick(ARRAY['oral','oral','oral','inhaled','topical'], c * 10 + k, 122),
       f.frequency, f.given_at, 'Dr. ' || pg_temp.pick(lasts, c * 10 + k, 124) || ' SYNTH',
       pg_temp.h(c * 10 + k, 125) % 10 = 0,
       today - (pg_temp.h(c * 10 + k, 126) % 500)::int,
       CASE WHEN pg_temp.h(c * 10 + k, 127) % 7 = 0 THEN today - 3 END,
       pg_temp.h(c * 10 + k, 127) % 7 <> 0
FROM p, generate_series(1, p.clients) c, generate_series(1, 3) k,
     LATERAL (SELECT (ARRAY['once daily','twice daily','three times daily','at bedtime'])[i] AS frequency,
                     (ARRAY['{08:00}', '{08:00,20:00}', '{08:00,14:00,20:00}', '{21:00}'])[i]::time[] AS given_at
              FROM (SELECT 1 + pg_temp.h(c * 10 + k, 123) % 4 AS i) x) f;

-- Visits: one or two a day per client, laid out in local time, 30 days back to 14 ahead.
-- Past visits are done (or missed, or cancelled); future ones are scheduled, some still vacant.
CREATE TEMP TABLE v ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY d, c, slot) AS id, c, d, slot,
       ((today + d) + time '07:00' + slot * interval '5 hours' + (pg_temp.h(c * 1000 + d * 3 + slot, 130) % 8) * interval '15 minutes')
           AT TIME ZONE tz AS start,
       (ARRAY[30, 60, 90, 120])[1 + pg_temp.h(c * 1000 + d * 3 + slot, 131) % 4] AS minutes,
       pg_temp.h(c * 1000 + d * 3 + slot, 132) % 100 AS roll
FROM p, generate_series(1, p.clients) c, generate_series(-30, 14) d, generate_series(0, 1) slot
WHERE slot = 0 OR pg_temp.h(c * 100 + d, 133) % 2 = 0;

INSERT INTO visits (id, client_id, employee_id, service_id, scheduled_start, scheduled_end, status,
                    clock_in, clock_out, mileage_km, updated_at)
SELECT v.id, v.c,
       CASE WHEN v.d >= 0 AND v.roll < 8 THEN NULL ELSE 5 + pg_temp.h(v.id, 134) % (p.employees - 4) END,
       1 + pg_temp.h(v.c, 135) % 8,
       v.start, v.start + v.minutes * interval '1 minute',
       CASE WHEN v.d >= 0 THEN 'scheduled' WHEN v.roll < 90 THEN 'completed'
            WHEN v.roll < 93 THEN 'missed' ELSE 'cancelled' END::visit_status,
       CASE WHEN v.d < 0 AND v.roll < 90 THEN v.start + ((pg_temp.h(v.id, 136) % 21) - 10) * interval '1 minute' END,
       CASE WHEN v.d < 0 AND v.roll < 90 THEN v.start + (v.minutes + (pg_temp.h(v.id, 137) % 21) - 8) * interval '1 minute' END,
       CASE WHEN v.d < 0 AND v.roll < 90 THEN (pg_temp.h(v.id, 138) % 400)::numeric / 10 END,
       -- planned before yesterday, except the few changed on the rota since (after some
       -- carers' last sync: see user_devices below)
       CASE WHEN v.d >= 0 AND pg_temp.h(v.id, 139) % 100 < 1
            THEN (p.today::timestamp AT TIME ZONE p.tz) - (pg_temp.h(v.id, 139) % 360) * interval '1 minute'
            ELSE LEAST(v.start, (p.today::timestamp AT TIME ZONE p.tz) - interval '1 day') END
FROM v, p;

INSERT INTO visit_tasks (visit_id, visit_start, adl_task_id, title, done, comment)
SELECT vi.id, vi.scheduled_start, a.id, a.title,
       CASE WHEN vi.status = 'completed' THEN pg_temp.h(vi.id * 4 + k, 140) % 10 <> 0 END,
       CASE WHEN vi.status = 'completed' AND pg_temp.h(vi.id * 4 + k, 141) % 6 = 0
            THEN pg_temp.pick(ARRAY['client declined','done with extra time','family assisted'], vi.id * 4 + k, 142) END
FROM visits vi, generate_series(1, 3) k
JOIN adl_tasks a ON true
WHERE a.id = (vi.client_id - 1) * 4 + k;

INSERT INTO visit_notes (visit_id, visit_start, author_id, written_at, body)
SELECT vi.id, vi.scheduled_start, vi.employee_id, vi.clock_out + interval '5 minutes',
       'SYNTH progress note: ' || pg_temp.pick(ARRAY[
           'Client in good spirits; ate full breakfast.',
           'Skin intact; barrier cream applied.',
           'Client reported mild dizziness on standing; coordinator informed.',
           'Walked the hallway twice with walker, steady gait.',
           'Medication taken as scheduled; no concerns.',
           'Family asked about changing the visit time; passed to the office.'], vi.id, 150)
FROM visits vi
WHERE vi.status = 'completed' AND pg_temp.h(vi.id, 151) % 10 < 7;

-- Devices: most field staff carry a phone, some a tablet too, a few none. Most synced in
-- the evening before today; some stopped syncing days ago; some were interrupted (their last
-- call failed after an older success); some never turned offline mode on.
INSERT INTO user_devices (device_uuid, device_name, employee_id, branch_id, app_version,
                          last_api_call_at, last_api_call_ok, last_successful_sync, offline_mode, registered_on)
SELECT md5('device:' || e.id || ':' || k)::uuid,
       CASE WHEN k = 1 THEN pg_temp.pick(ARRAY['Galaxy A15','Pixel 7a','iPhone SE','Moto G54'], e.id, 200)
            ELSE pg_temp.pick(ARRAY['iPad 9','Galaxy Tab A8'], e.id, 201) END,
       e.id, e.branch_id, '5.' || (2 + pg_temp.h(e.id * 10 + k, 202) % 3) || '.' || pg_temp.h(e.id * 10 + k, 203) % 10,
       CASE WHEN s.interrupted THEN s.t0 - (pg_temp.h(e.id, 204) % 120) * interval '1 minute' ELSE s.synced END,
       NOT s.interrupted,
       s.synced,
       pg_temp.h(e.id * 10 + k, 205) % 7 <> 0,
       p.today - (30 + pg_temp.h(e.id * 10 + k, 206) % 700)::int
FROM p, employees e, generate_series(1, 2) k,
     LATERAL (SELECT p.today::timestamp AT TIME ZONE p.tz AS t0,
                     pg_temp.h(e.id, 207) % 16 = 0 AS stale,
                     pg_temp.h(e.id, 208) % 20 = 0 AS interrupted) s0,
     LATERAL (SELECT s0.t0, s0.interrupted,
                     CASE WHEN s0.stale THEN s0.t0 - (2 + pg_temp.h(e.id, 209) % 4) * interval '1 day'
                          WHEN s0.interrupted THEN s0.t0 - interval '1 day' - (pg_temp.h(e.id, 210) % 600) * interval '1 minute'
                          ELSE s0.t0 - (pg_temp.h(e.id * 10 + k, 211) % 600) * interval '1 minute' END AS synced) s
WHERE e.id > 4 AND pg_temp.h(e.id, 212) % 40 <> 0 AND (k = 1 OR pg_temp.h(e.id, 213) % 8 = 0);

-- Explicit ids above do not move identity sequences; move them so new rows do not collide.
SELECT setval(pg_get_serial_sequence('agency.' || quote_ident(t), 'id'), m + 1, false)
FROM (VALUES ('branches', (SELECT max(id) FROM branches)), ('employees', (SELECT max(id) FROM employees)),
             ('clients', (SELECT max(id) FROM clients)), ('services', (SELECT max(id) FROM services)),
             ('supplies', (SELECT max(id) FROM supplies)), ('care_plans', (SELECT max(id) FROM care_plans)),
             ('adl_tasks', (SELECT max(id) FROM adl_tasks))) AS s(t, m);
SELECT setval('agency.visits_id_seq', (SELECT max(id) FROM visits));
SELECT setval('agency.invoice_number_seq', 100000 + 1000 * scale) FROM p;

COMMIT;

REFRESH MATERIALIZED VIEW agency.client_visit_summary;
