-- Last: whatever the parts before created, PUBLIC gets none of it.
------------------------------------------------------------------------------
-- Nothing for PUBLIC
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA ws FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ws FROM PUBLIC;
