-- Snowflake: LISTAGG ... WITHIN GROUP stands for string_agg ... ORDER BY.
-- Optional (export.extra_dashboards): who needs paper first. One row per carer with visits
-- from the start of today for export.days days: their devices, when one of them last synced,
-- whether offline mode is on, and how many of those visits were created or changed after that
-- sync (a sync mismatch: the app does not show them, or still shows one since cancelled).
-- A visit already clocked in is the carer's own and not counted; a carer with no device has
-- never synced. A visit moved to another carer is not seen here (the rota keeps no history). Most urgent first: the most changed visits, then offline mode not on every device,
-- then the oldest sync. acc status, acc sheets --stale-only and the urgent list read these
-- columns by name: keep "Employee number", "Offline mode" and "Visits changed since sync".
SELECT e.employee_number                  AS "Employee number",
       e.first_name || ' ' || e.last_name AS "Employee",
       e.phone                            AS "Phone",
       b.name                             AS "Branch",
       d.names                            AS "Devices",
       d.last_sync                        AS "Last successful sync",
       CASE WHEN d.devices IS NULL THEN 'no device'
            WHEN d.offline = d.devices THEN 'yes'
            WHEN d.offline = 0 THEN 'no'
            ELSE 'some devices' END       AS "Offline mode",
       a.visits                           AS "Visits ahead",
       a.changed                          AS "Visits changed since sync"
FROM (SELECT v.employee_id,
             sum(CASE WHEN v.status::text <> 'cancelled' THEN 1 ELSE 0 END) AS visits,
             sum(CASE WHEN v.clock_in IS NULL
                       AND (s.last_sync IS NULL OR v.updated_at > s.last_sync) THEN 1 ELSE 0 END) AS changed
      FROM agency.visits v
      LEFT JOIN (SELECT employee_id, max(last_successful_sync) AS last_sync
                 FROM agency.user_devices GROUP BY employee_id) s ON s.employee_id = v.employee_id
      WHERE v.employee_id IS NOT NULL
        AND v.scheduled_start >= {{window_start}} AND v.scheduled_start < {{window_end}}
      GROUP BY v.employee_id
      HAVING sum(CASE WHEN v.status::text <> 'cancelled' THEN 1 ELSE 0 END) > 0) a
JOIN agency.employees e ON e.id = a.employee_id
JOIN agency.branches b ON b.id = e.branch_id
LEFT JOIN (SELECT employee_id,
                  count(*) AS devices,
                  LISTAGG(device_name, '; ') WITHIN GROUP (ORDER BY device_name, id) AS names,
                  max(last_successful_sync) AS last_sync,
                  sum(CASE WHEN offline_mode THEN 1 ELSE 0 END) AS offline
           FROM agency.user_devices GROUP BY employee_id) d ON d.employee_id = e.id
ORDER BY a.changed DESC,
         CASE WHEN d.devices IS NOT NULL AND d.offline = d.devices THEN 1 ELSE 0 END,
         d.last_sync NULLS FIRST,
         e.employee_number
