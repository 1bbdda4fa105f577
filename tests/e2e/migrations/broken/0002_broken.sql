-- The first statement succeeds and must be rolled back with the rest.
CREATE TABLE e2e_gadgets (id bigint PRIMARY KEY);
SELEC 'a typo on line 3';
