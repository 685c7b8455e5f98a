-- Equipment and supplies in each client's home, not yet returned.
SELECT c.client_number  AS "Client number",
       c.last_name      AS "Last name",
       c.first_name     AS "First name",
       c.phone          AS "Phone number",
       c.address_line   AS "Address",
       c.city           AS "Town or city",
       s.sku            AS "SKU",
       s.name           AS "Item",
       s.kind::text     AS "Equipment or supply",
       cs.quantity      AS "How many",
       cs.serial_number AS "Serial number",
       cs.assigned_on   AS "Assigned on"
FROM agency.client_supplies cs
JOIN agency.clients c ON c.id = cs.client_id
JOIN agency.supplies s ON s.id = cs.supply_id
WHERE cs.returned_on IS NULL
ORDER BY c.client_number, s.sku, cs.id
