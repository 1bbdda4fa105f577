CREATE TABLE e2e_widgets (id bigint PRIMARY KEY);
