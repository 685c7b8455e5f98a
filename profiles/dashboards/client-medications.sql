-- Every active medication of every client in care.
SELECT c.client_number                 AS "Client number",
       c.last_name                     AS "Last name",
       c.first_name                    AS "First name",
       c.phone                         AS "Phone number",
       m.name                          AS "Medication",
       m.dose                          AS "Dosage",
       m.route                         AS "Given by route",
       m.frequency                     AS "How often",
       array_to_string(m.given_at, ' ') AS "Given at",
       CASE WHEN m.is_prn THEN 'yes' ELSE 'no' END AS "As needed",
       m.prescriber                    AS "Prescribed by",
       m.started_on                    AS "Started on"
FROM agency.medications m
JOIN agency.clients c ON c.id = m.client_id
WHERE m.is_active AND (m.ended_on IS NULL OR m.ended_on >= {{today}}) AND c.status <> 'discharged'
ORDER BY c.client_number, m.id
