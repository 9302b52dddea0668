-- workload.sql — an SQLite workload for goheap's LD_PRELOAD tests
-- (tests/preload.rs), run by the sqlite3 shell with `.read`. Deterministic.
create table nums(n integer primary key, sq integer, txt text);
with recursive c(n) as (select 1 union all select n + 1 from c where n < 100000)
insert into nums select n, n * n, printf('row-%06d-%s', n, substr('abcdefghijklmnopqrstuvwxyz', 1 + n % 26)) from c;
create index nums_txt on nums(txt);
select count(*), sum(sq) % 1000000007, max(length(txt)) from nums;
select substr(txt, 12, 1) as letter, count(*), avg(n) from nums group by letter order by letter limit 5;
select group_concat(n, ',') from (select n from nums where txt like 'row-00001%' order by n);
create table words as with recursive w(i, s) as (select 1, 'a' union all select i + 1, s || char(97 + i % 26) from w where i < 2000) select * from w;
select count(*), sum(length(s)), max(s) > min(s) from words;
select json_group_array(json_object('n', n, 't', txt)) from (select * from nums order by n desc limit 3);
