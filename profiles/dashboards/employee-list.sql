-- Every current employee, with how to reach them and their branch.
SELECT e.employee_number AS "Employee number",
       e.last_name       AS "Last name",
       e.first_name      AS "First name",
       e.role::text      AS "Job role",
       e.status::text    AS "Employment status",
       e.phone           AS "Phone number",
       e.email           AS "Email address",
       b.name            AS "Branch",
       b.phone           AS "Branch phone"
FROM agency.employees e
JOIN agency.branches b ON b.id = e.branch_id
WHERE e.status::text <> 'inactive'
ORDER BY e.employee_number
