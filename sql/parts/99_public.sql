-- Last: whatever the parts before created, PUBLIC gets none of it.
------------------------------------------------------------------------------
-- Nothing for PUBLIC
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA ws FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA ws FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA ws_internal FROM PUBLIC;
