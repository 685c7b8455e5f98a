-- When each active employee can work, as of today; times are local wall-clock times.
SELECT e.employee_number AS "Employee number",
       e.last_name       AS "Last name",
       e.first_name      AS "First name",
       e.phone           AS "Phone number",
       CASE a.weekday WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday' WHEN 3 THEN 'Wednesday'
                      WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday' WHEN 6 THEN 'Saturday'
                      ELSE 'Sunday' END AS "Day",
       a.starts_at       AS "From",
       a.ends_at         AS "Until",
       a.effective_from  AS "Effective from",
       a.effective_to    AS "Effective to"
FROM agency.employee_availability a
JOIN agency.employees e ON e.id = a.employee_id
WHERE e.status::text = 'active'
  AND a.effective_from <= {{today}} AND (a.effective_to IS NULL OR a.effective_to >= {{today}})
ORDER BY e.employee_number, a.weekday, a.starts_at, a.id
