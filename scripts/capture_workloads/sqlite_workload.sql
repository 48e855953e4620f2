-- sqlite3 workload for the default dump: generated rows, two indexes, an aggregate table,
-- all in :memory:.  Run as: sqlite3 :memory: ".read sqlite_workload.sql"
-- The last line keeps sqlite3 alive (blocked in system()) after the shell prints READY.
PRAGMA cache_size = -400000;
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT,
                       balance REAL, created TEXT, notes TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 160000)
INSERT INTO customers
SELECT i,
       printf('%s %s', substr('KaLoMiNeRuTaShiVoZenPa', 1 + (i * 7) % 19, 3 + i % 4),
              substr('DorElAnQuiKaLoMiNeRuTa', 1 + (i * 13) % 17, 4 + i % 3)),
       printf('user%d@%s', (i * 2654435761) % 1000003,
              CASE i % 4 WHEN 0 THEN 'example.org' WHEN 1 THEN 'mail.test'
                         WHEN 2 THEN 'corp.invalid' ELSE 'users.example' END),
       CASE (i * 31) % 8 WHEN 0 THEN 'Aberdeen' WHEN 1 THEN 'Bergen' WHEN 2 THEN 'Cork'
            WHEN 3 THEN 'Dresden' WHEN 4 THEN 'Eindhoven' WHEN 5 THEN 'Florence'
            WHEN 6 THEN 'Graz' ELSE 'Hull' END,
       ((i * 48271) % 2147483647) / 21474.83647,
       printf('2023-%02d-%02d %02d:%02d', 1 + i % 12, 1 + i % 28, i % 24, (i * 7) % 60),
       printf('segment=%d tier=%s ref=%x', i % 37, substr('ABCDEFG', 1 + i % 7, 1),
              (i * 40503) % 65536)
FROM n;
CREATE INDEX customers_email ON customers(email);
CREATE INDEX customers_city_balance ON customers(city, balance);
CREATE TABLE city_stats AS
  SELECT city, count(*) AS n, avg(balance) AS avg_balance, max(created) AS last_created
  FROM customers GROUP BY city;
SELECT count(*), sum(balance) FROM customers;
.shell echo READY; exec sleep 3600
