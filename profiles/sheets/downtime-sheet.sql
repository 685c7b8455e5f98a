-- Each employee's visits for the sheet's days, with what the worker needs at the door, and
-- blank columns to fill in on paper. Typed up, the same CSV is the input of acc replay, so the
-- column names matter: Employee number, Visit, Clock in, Clock out, Tasks done, Note, Initials.
SELECT e.employee_number                    AS "Employee number",
       e.first_name || ' ' || e.last_name   AS "Employee",
       v.id                                 AS "Visit",
       c.client_number                      AS "Client number",
       c.first_name || ' ' || c.last_name   AS "Client",
       c.address_line || ', ' || c.city     AS "Address",
       c.phone                              AS "Phone",
       v.scheduled_start                    AS "Start",
       v.scheduled_end                      AS "End",
       (SELECT string_agg(t.id || ': ' || t.title, '; ' ORDER BY t.id)
        FROM agency.visit_tasks t
        WHERE t.visit_id = v.id AND t.visit_start = v.scheduled_start) AS "Tasks",
       concat_ws('; ',
           (SELECT string_agg('ALLERGY ' || a.allergen || ' (' || a.reaction || ', ' || a.severity || ')', '; ' ORDER BY a.id)
            FROM agency.client_allergies a WHERE a.client_id = c.id),
           (SELECT string_agg('RISK ' || r.category || ' (' || r.severity || '): ' || r.description, '; ' ORDER BY r.id)
            FROM agency.client_risks r WHERE r.client_id = c.id)) AS "Allergies and risks",
       CAST(NULL AS text)                   AS "Clock in",
       CAST(NULL AS text)                   AS "Clock out",
       CAST(NULL AS text)                   AS "Tasks done",
       CAST(NULL AS text)                   AS "Note",
       CAST(NULL AS text)                   AS "Initials"
FROM agency.visits v
JOIN agency.employees e ON e.id = v.employee_id
JOIN agency.clients c ON c.id = v.client_id
WHERE v.scheduled_start >= {{window_start}} AND v.scheduled_start < {{window_end}}
  AND v.status::text <> 'cancelled'
ORDER BY e.employee_number, v.scheduled_start, v.id
