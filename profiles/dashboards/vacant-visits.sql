-- Visits from the start of today for export.days days that nobody is assigned to yet.
SELECT v.id              AS "Visit",
       v.scheduled_start AS "Start",
       v.scheduled_end   AS "End",
       sv.name           AS "Service",
       c.client_number   AS "Client number",
       c.last_name       AS "Last name",
       c.first_name      AS "First name",
       c.phone           AS "Phone number",
       c.address_line    AS "Address",
       c.city            AS "Town or city",
       b.name            AS "Branch",
       b.phone           AS "Branch phone"
FROM agency.visits v
JOIN agency.clients c ON c.id = v.client_id
JOIN agency.branches b ON b.id = c.branch_id
JOIN agency.services sv ON sv.id = v.service_id
WHERE v.employee_id IS NULL AND v.status::text = 'scheduled'
  AND v.scheduled_start >= {{window_start}} AND v.scheduled_start < {{window_end}}
ORDER BY v.scheduled_start, v.id
