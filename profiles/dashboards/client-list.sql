-- Every client still in care, one row per current service, with address and primary contact.
SELECT c.client_number   AS "Client number",
       c.last_name       AS "Last name",
       c.first_name      AS "First name",
       c.date_of_birth   AS "Date of birth",
       c.phone           AS "Phone number",
       c.address_line    AS "Address",
       c.city            AS "Town or city",
       c.province        AS "Province or state",
       c.postal_code     AS "Postal code",
       c.status          AS "Client status",
       ct.name           AS "Primary contact",
       ct.relationship   AS "Contact relationship",
       ct.phone          AS "Contact phone",
       s.name            AS "Service",
       cs.hours_per_week AS "Hours per week",
       cs.funder         AS "Funded by",
       cs.starts_on      AS "Service start",
       cs.ends_on        AS "Service end",
       b.name            AS "Branch"
FROM agency.clients c
JOIN agency.branches b ON b.id = c.branch_id
LEFT JOIN agency."Client Contacts" ct ON ct.client_id = c.id AND ct.is_primary
LEFT JOIN agency.client_services cs
       ON cs.client_id = c.id AND cs.starts_on <= {{today}} AND (cs.ends_on IS NULL OR cs.ends_on >= {{today}})
LEFT JOIN agency.services s ON s.id = cs.service_id
WHERE c.status <> 'discharged'
ORDER BY c.client_number, ct.id, cs.id
