-- The activities of daily living in each active care plan, with instructions.
SELECT c.client_number  AS "Client number",
       c.last_name      AS "Last name",
       c.first_name     AS "First name",
       c.phone          AS "Phone number",
       c.address_line   AS "Address",
       c.city           AS "Town or city",
       cp.goals         AS "Care goals",
       t.category::text AS "ADL category",
       t.title          AS "Task",
       t.instructions   AS "Care instructions",
       t.assistance     AS "Assistance level",
       t.times_per_day  AS "Times per day",
       cp.reviewed_on   AS "Plan reviewed on"
FROM agency.care_plans cp
JOIN agency.clients c ON c.id = cp.client_id
JOIN agency.adl_tasks t ON t.care_plan_id = cp.id
WHERE cp.status = 'active' AND c.status <> 'discharged'
ORDER BY c.client_number, cp.id, t.id
