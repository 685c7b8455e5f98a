-- Each employee's visits from the start of today for export.days days, in local time.
SELECT e.employee_number AS "Employee number",
       e.last_name       AS "Employee last name",
       e.first_name      AS "Employee first name",
       e.phone           AS "Employee phone",
       v.id              AS "Visit",
       v.scheduled_start AS "Start",
       v.scheduled_end   AS "End",
       sv.name           AS "Service",
       v.status::text    AS "Visit status",
       c.client_number   AS "Client number",
       c.last_name       AS "Client last name",
       c.first_name      AS "Client first name",
       c.phone           AS "Client phone",
       c.address_line    AS "Address",
       c.city            AS "Town or city"
FROM agency.visits v
JOIN agency.employees e ON e.id = v.employee_id
JOIN agency.clients c ON c.id = v.client_id
JOIN agency.services sv ON sv.id = v.service_id
WHERE v.scheduled_start >= {{window_start}} AND v.scheduled_start < {{window_end}}
  AND v.status::text <> 'cancelled'
ORDER BY e.employee_number, v.scheduled_start, v.id
