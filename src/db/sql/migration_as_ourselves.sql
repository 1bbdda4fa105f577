-- After the file, before the history statement: back to the connecting
-- role (a file may SET ROLE or SET SESSION AUTHORIZATION; the history row is
-- written as the role that connected), and no statement timeout the file
-- may have set.
RESET SESSION AUTHORIZATION;
RESET ROLE;
SET LOCAL statement_timeout = 0;
