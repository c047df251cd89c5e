-- The seed's "Organizing a conference" workflow as one ws.define document. Receiving
-- subscriptions is a purely database step, a SQL action: the engine runs its function
-- inside the step (each round, 40 more people subscribe); the other actions go to the
-- demo's ws-worker.
CREATE TABLE public.demo_subscription (id serial PRIMARY KEY, person text NOT NULL, at timestamptz DEFAULT now());
CREATE FUNCTION public.demo_receive_subscriptions(params jsonb) RETURNS jsonb LANGUAGE sql AS $$
    INSERT INTO public.demo_subscription (person)
        SELECT 'person ' || i FROM generate_series(1, 40) i;
    SELECT jsonb_build_object('subscriptions', count(*)) FROM public.demo_subscription;
$$;
SELECT ws.register_action('conferencer.tasks.subscriptions', '{}', 'counts the subscriptions (in the database)',
                          'public.demo_receive_subscriptions(jsonb)');
SELECT ws.register_action('conferencer.tasks.mailing', '{"to": {"type": "string", "label": "recipients", "required": true}}',
                          'sends a mailing');
SELECT ws.define($${"name": "conference", "params": {"city": "Bilbao", "to": "speakers@example.org"},
  "description": "First the call for papers is sent, and begins the search for a location. When there are sufficient talks and the location is chosen begins the propaganda. Then subscriptions are accounted until the starting day comes, when the conference finally begins.",
  "nodes": [
    {"name": "Send the Call for Papers", "action": "conferencer.tasks.mailing", "role": "demo_organization",
     "start": true, "split": "and"},
    {"name": "Search a location", "action": "conferencer.tasks.search", "role": "demo_organization", "start": true},
    {"name": "Collect papers", "role": "demo_accounting", "join": "and"},
    {"name": "Publicize", "join": "and", "split": "and"},
    {"name": "Mailing", "action": "conferencer.tasks.mailing", "params": {"to": "everyone@example.org"}},
    {"name": "Newspapers", "action": "conferencer.tasks.newspapers"},
    {"name": "Poster", "action": "conferencer.tasks.poster"},
    {"name": "Receive subscriptions", "action": "conferencer.tasks.subscriptions", "join": "or"},
    {"name": "Wait until the starting day", "action": "conferencer.tasks.calendar", "split": "xor"},
    {"name": "Start the conference", "role": "demo_organization", "end": true}],
  "transitions": [
    {"from": "Send the Call for Papers", "to": "Collect papers"},
    {"from": "Collect papers", "to": "Publicize", "condition": "$.papers >= 10"},
    {"from": "Search a location", "to": "Publicize"},
    {"from": "Publicize", "to": "Mailing"},
    {"from": "Publicize", "to": "Newspapers"},
    {"from": "Publicize", "to": "Poster"},
    {"from": "Mailing", "to": "Receive subscriptions"},
    {"from": "Newspapers", "to": "Receive subscriptions"},
    {"from": "Poster", "to": "Receive subscriptions"},
    {"from": "Receive subscriptions", "to": "Wait until the starting day"},
    {"from": "Wait until the starting day", "to": "Start the conference", "condition": "$.days_left <= 0", "priority": 1},
    {"from": "Wait until the starting day", "to": "Receive subscriptions", "priority": 2}]}$$) AS workflow;
