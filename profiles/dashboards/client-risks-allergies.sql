-- Every allergy and every risk of every client in care, spelled out, one per row.
SELECT c.client_number AS "Client number",
       c.last_name     AS "Last name",
       c.first_name    AS "First name",
       c.phone         AS "Phone number",
       c.address_line  AS "Address",
       c.city          AS "Town or city",
       x.kind          AS "Type",
       x.item          AS "Allergen or risk factor",
       x.severity      AS "Severity",
       x.detail        AS "Reaction or precaution",
       x.since         AS "Identified on"
FROM agency.clients c
JOIN (SELECT client_id, 'Allergy' AS kind, allergen AS item, severity::text AS severity,
             reaction AS detail, CAST(NULL AS date) AS since, id
      FROM agency.client_allergies
      UNION ALL
      SELECT client_id, 'Risk', category, severity::text, description, identified_on, id
      FROM agency.client_risks) x ON x.client_id = c.id
WHERE c.status <> 'discharged'
ORDER BY c.client_number, x.kind, x.id
