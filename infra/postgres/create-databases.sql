-- Run once by the postgres image on an empty data volume
-- (/docker-entrypoint-initdb.d): one database per service, nothing shared.
CREATE DATABASE orders;
CREATE DATABASE inventory;
