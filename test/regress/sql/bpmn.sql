-- BPMN 2.0 in and out: ws.define_bpmn reads files as Camunda Modeler (Camunda 7 and 8)
-- and bpmn.io write them (namespaces, extensionElements, diagram interchange), maps them
-- onto ws.define, and refuses what has no counterpart with 22023 naming the element;
-- ws.to_bpmn writes a workflow back, and reading that back gives the same workflow.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;
CREATE ROLE ws_bpmn_organization NOLOGIN;
CREATE ROLE ws_bpmn_accounting NOLOGIN;

-- bp_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised, with its detail
CREATE FUNCTION bp_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(E'\n' || nullif(detail, ''), '');
END $$;
-- bp_load(bpmn): ws.define_bpmn of it, or its error as bp_attempt writes it
CREATE FUNCTION bp_load(bpmn text) RETURNS text LANGUAGE sql AS $$
    SELECT bp_attempt(format('SELECT ws.define_bpmn(%L)', bpmn))
$$;
-- bp_file(body): a file as Camunda Modeler writes it around the body of process "bpmn small"
-- that starts with start event "s" and ends with end event "e"
CREATE FUNCTION bp_file(body text, outside text DEFAULT '') RETURNS text LANGUAGE sql AS $$
    SELECT '<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:ws="urn:ws:bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0">'
        || outside || '
  <bpmn:process id="Process_small" name="bpmn small" isExecutable="true">
    <bpmn:startEvent id="s" />
    ' || body || '
    <bpmn:endEvent id="e" />
  </bpmn:process>
</bpmn:definitions>'
$$;
-- bp_one(element): a file with start -> element (id "x") -> end
CREATE FUNCTION bp_one(element text, outside text DEFAULT '') RETURNS text LANGUAGE sql AS $$
    SELECT bp_file(element || '
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x" />
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e" />', outside)
$$;
-- bp_run(p, node, result): claims what is ready and completes the active task of node
CREATE FUNCTION bp_run(p bigint, node_name text, result jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    PERFORM ws.claim(ARRAY(SELECT DISTINCT action FROM ws.task WHERE action IS NOT NULL), 'bpmn worker', 100);
    SELECT k.id INTO STRICT t FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p AND n.name = node_name AND k.state IN ('running', 'pending');
    PERFORM ws.complete(t, result);
    RETURN node_name || ' done';
END $$;
CREATE FUNCTION bp_tasks(p bigint) RETURNS TABLE (node text, state text) LANGUAGE sql AS $$
    SELECT n.name, k.state FROM ws.task k JOIN ws.node n ON n.id = k.node WHERE k.process = p ORDER BY k.id
$$;
-- bp_round(w): 'equal' when reading ws.to_bpmn(w) back gives a workflow with w's export
CREATE FUNCTION bp_round(w bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    again bigint := ws.define_bpmn(ws.to_bpmn(w)::text);
BEGIN
    RETURN CASE WHEN ws.export(again) = ws.export(w) THEN 'equal'
                ELSE format('%s <> %s', ws.export(w), ws.export(again)) END;
END $$;

------------------------------------------------------------------------------
-- The seed's conference as Camunda Modeler (Camunda 7) saves it: external service tasks,
-- user tasks with candidate groups, an AND gateway that joins and splits (a routing
-- node), an XOR gateway with a JUEL condition and a default flow, an inclusive join (an
-- OR join), a loop, a timer boundary event (a deadline) and a terminate end event
------------------------------------------------------------------------------
SELECT $bpmn$<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_0k1x9c2" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0" modeler:executionPlatform="Camunda Platform" modeler:executionPlatformVersion="7.20.0">
  <bpmn:process id="Process_conference" name="bpmn conference" isExecutable="true" camunda:historyTimeToLive="180">
    <bpmn:documentation>Organizing a conference, drawn in Camunda Modeler</bpmn:documentation>
    <bpmn:startEvent id="StartEvent_1" name="Conference decided">
      <bpmn:outgoing>Flow_0a</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:parallelGateway id="Gateway_0fork">
      <bpmn:incoming>Flow_0a</bpmn:incoming>
      <bpmn:outgoing>Flow_0b</bpmn:outgoing>
      <bpmn:outgoing>Flow_0c</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:serviceTask id="Activity_cfp" name="Send the Call for Papers" camunda:type="external" camunda:topic="conferencer.tasks.mailing">
      <bpmn:incoming>Flow_0b</bpmn:incoming>
      <bpmn:outgoing>Flow_0d</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="Activity_search" name="Search a location" camunda:type="external" camunda:topic="conferencer.tasks.search">
      <bpmn:incoming>Flow_0c</bpmn:incoming>
      <bpmn:outgoing>Flow_0e</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:userTask id="Activity_collect" name="Collect papers" camunda:candidateGroups="ws_bpmn_accounting">
      <bpmn:incoming>Flow_0d</bpmn:incoming>
      <bpmn:outgoing>Flow_0f</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="Event_late" name="30 days" attachedToRef="Activity_collect">
      <bpmn:outgoing>Flow_late</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_1">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">P30D</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:exclusiveGateway id="Gateway_enough" name="Enough papers?" default="Flow_few">
      <bpmn:incoming>Flow_0f</bpmn:incoming>
      <bpmn:outgoing>Flow_many</bpmn:outgoing>
      <bpmn:outgoing>Flow_few</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:parallelGateway id="Gateway_publicize" name="Publicize">
      <bpmn:incoming>Flow_many</bpmn:incoming>
      <bpmn:incoming>Flow_0e</bpmn:incoming>
      <bpmn:outgoing>Flow_1a</bpmn:outgoing>
      <bpmn:outgoing>Flow_1b</bpmn:outgoing>
      <bpmn:outgoing>Flow_1c</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:serviceTask id="Activity_mailing" name="Mailing" camunda:type="external" camunda:topic="conferencer.tasks.mailing">
      <bpmn:incoming>Flow_1a</bpmn:incoming>
      <bpmn:outgoing>Flow_2a</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="Activity_newspapers" name="Newspapers" camunda:type="external" camunda:topic="conferencer.tasks.newspapers">
      <bpmn:incoming>Flow_1b</bpmn:incoming>
      <bpmn:outgoing>Flow_2b</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="Activity_poster" name="Poster" camunda:type="external" camunda:topic="conferencer.tasks.poster">
      <bpmn:incoming>Flow_1c</bpmn:incoming>
      <bpmn:outgoing>Flow_2c</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:inclusiveGateway id="Gateway_merge">
      <bpmn:incoming>Flow_2a</bpmn:incoming>
      <bpmn:incoming>Flow_2b</bpmn:incoming>
      <bpmn:incoming>Flow_2c</bpmn:incoming>
      <bpmn:incoming>Flow_again</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:inclusiveGateway>
    <bpmn:serviceTask id="Activity_subscriptions" name="Receive subscriptions" camunda:type="external" camunda:topic="conferencer.tasks.subscriptions">
      <bpmn:incoming>Flow_3</bpmn:incoming>
      <bpmn:outgoing>Flow_4</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="Activity_calendar" name="Wait until the starting day" camunda:type="external" camunda:topic="conferencer.tasks.calendar">
      <bpmn:incoming>Flow_4</bpmn:incoming>
      <bpmn:outgoing>Flow_5</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:exclusiveGateway id="Gateway_started" name="Started?" default="Flow_again">
      <bpmn:incoming>Flow_5</bpmn:incoming>
      <bpmn:outgoing>Flow_yes</bpmn:outgoing>
      <bpmn:outgoing>Flow_again</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="Activity_start" name="Start the conference" camunda:candidateGroups="ws_bpmn_organization">
      <bpmn:incoming>Flow_yes</bpmn:incoming>
      <bpmn:outgoing>Flow_6</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent_held" name="Conference held">
      <bpmn:incoming>Flow_6</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="EndEvent_cancelled" name="Conference cancelled">
      <bpmn:incoming>Flow_few</bpmn:incoming>
      <bpmn:incoming>Flow_late</bpmn:incoming>
      <bpmn:terminateEventDefinition id="TerminateEventDefinition_1" />
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_0a" sourceRef="StartEvent_1" targetRef="Gateway_0fork" />
    <bpmn:sequenceFlow id="Flow_0b" sourceRef="Gateway_0fork" targetRef="Activity_cfp" />
    <bpmn:sequenceFlow id="Flow_0c" sourceRef="Gateway_0fork" targetRef="Activity_search" />
    <bpmn:sequenceFlow id="Flow_0d" sourceRef="Activity_cfp" targetRef="Activity_collect" />
    <bpmn:sequenceFlow id="Flow_0e" sourceRef="Activity_search" targetRef="Gateway_publicize" />
    <bpmn:sequenceFlow id="Flow_0f" sourceRef="Activity_collect" targetRef="Gateway_enough" />
    <bpmn:sequenceFlow id="Flow_many" name="10 or more" sourceRef="Gateway_enough" targetRef="Gateway_publicize">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${papers &gt;= 10}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_few" name="fewer" sourceRef="Gateway_enough" targetRef="EndEvent_cancelled" />
    <bpmn:sequenceFlow id="Flow_late" sourceRef="Event_late" targetRef="EndEvent_cancelled" />
    <bpmn:sequenceFlow id="Flow_1a" sourceRef="Gateway_publicize" targetRef="Activity_mailing" />
    <bpmn:sequenceFlow id="Flow_1b" sourceRef="Gateway_publicize" targetRef="Activity_newspapers" />
    <bpmn:sequenceFlow id="Flow_1c" sourceRef="Gateway_publicize" targetRef="Activity_poster" />
    <bpmn:sequenceFlow id="Flow_2a" sourceRef="Activity_mailing" targetRef="Gateway_merge" />
    <bpmn:sequenceFlow id="Flow_2b" sourceRef="Activity_newspapers" targetRef="Gateway_merge" />
    <bpmn:sequenceFlow id="Flow_2c" sourceRef="Activity_poster" targetRef="Gateway_merge" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Gateway_merge" targetRef="Activity_subscriptions" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Activity_subscriptions" targetRef="Activity_calendar" />
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Activity_calendar" targetRef="Gateway_started" />
    <bpmn:sequenceFlow id="Flow_yes" name="started" sourceRef="Gateway_started" targetRef="Activity_start">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${started}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_again" sourceRef="Gateway_started" targetRef="Gateway_merge" />
    <bpmn:sequenceFlow id="Flow_6" sourceRef="Activity_start" targetRef="EndEvent_held" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_conference">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="152" y="182" width="36" height="36" />
        <bpmndi:BPMNLabel>
          <dc:Bounds x="133" y="225" width="75" height="27" />
        </bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_0fork_di" bpmnElement="Gateway_0fork">
        <dc:Bounds x="235" y="175" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_cfp_di" bpmnElement="Activity_cfp">
        <dc:Bounds x="330" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_search_di" bpmnElement="Activity_search">
        <dc:Bounds x="330" y="240" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_collect_di" bpmnElement="Activity_collect">
        <dc:Bounds x="480" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_late_di" bpmnElement="Event_late">
        <dc:Bounds x="512" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_enough_di" bpmnElement="Gateway_enough" isMarkerVisible="true">
        <dc:Bounds x="625" y="95" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_publicize_di" bpmnElement="Gateway_publicize">
        <dc:Bounds x="725" y="175" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_mailing_di" bpmnElement="Activity_mailing">
        <dc:Bounds x="820" y="60" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_newspapers_di" bpmnElement="Activity_newspapers">
        <dc:Bounds x="820" y="160" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_poster_di" bpmnElement="Activity_poster">
        <dc:Bounds x="820" y="260" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_merge_di" bpmnElement="Gateway_merge">
        <dc:Bounds x="965" y="175" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_subscriptions_di" bpmnElement="Activity_subscriptions">
        <dc:Bounds x="1060" y="160" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_calendar_di" bpmnElement="Activity_calendar">
        <dc:Bounds x="1210" y="160" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_started_di" bpmnElement="Gateway_started" isMarkerVisible="true">
        <dc:Bounds x="1355" y="175" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_start_di" bpmnElement="Activity_start">
        <dc:Bounds x="1450" y="160" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_held_di" bpmnElement="EndEvent_held">
        <dc:Bounds x="1602" y="182" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="EndEvent_cancelled_di" bpmnElement="EndEvent_cancelled">
        <dc:Bounds x="732" y="2" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_0a_di" bpmnElement="Flow_0a">
        <di:waypoint x="188" y="200" />
        <di:waypoint x="235" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0b_di" bpmnElement="Flow_0b">
        <di:waypoint x="260" y="175" />
        <di:waypoint x="260" y="120" />
        <di:waypoint x="330" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0c_di" bpmnElement="Flow_0c">
        <di:waypoint x="260" y="225" />
        <di:waypoint x="260" y="280" />
        <di:waypoint x="330" y="280" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0d_di" bpmnElement="Flow_0d">
        <di:waypoint x="430" y="120" />
        <di:waypoint x="480" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0e_di" bpmnElement="Flow_0e">
        <di:waypoint x="430" y="280" />
        <di:waypoint x="750" y="280" />
        <di:waypoint x="750" y="225" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_0f_di" bpmnElement="Flow_0f">
        <di:waypoint x="580" y="120" />
        <di:waypoint x="625" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_many_di" bpmnElement="Flow_many">
        <di:waypoint x="650" y="145" />
        <di:waypoint x="650" y="200" />
        <di:waypoint x="725" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_few_di" bpmnElement="Flow_few">
        <di:waypoint x="650" y="95" />
        <di:waypoint x="650" y="20" />
        <di:waypoint x="732" y="20" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_late_di" bpmnElement="Flow_late">
        <di:waypoint x="530" y="178" />
        <di:waypoint x="530" y="20" />
        <di:waypoint x="732" y="20" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_1a_di" bpmnElement="Flow_1a">
        <di:waypoint x="750" y="175" />
        <di:waypoint x="750" y="100" />
        <di:waypoint x="820" y="100" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_1b_di" bpmnElement="Flow_1b">
        <di:waypoint x="775" y="200" />
        <di:waypoint x="820" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_1c_di" bpmnElement="Flow_1c">
        <di:waypoint x="750" y="225" />
        <di:waypoint x="750" y="300" />
        <di:waypoint x="820" y="300" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2a_di" bpmnElement="Flow_2a">
        <di:waypoint x="920" y="100" />
        <di:waypoint x="990" y="100" />
        <di:waypoint x="990" y="175" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2b_di" bpmnElement="Flow_2b">
        <di:waypoint x="920" y="200" />
        <di:waypoint x="965" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2c_di" bpmnElement="Flow_2c">
        <di:waypoint x="920" y="300" />
        <di:waypoint x="990" y="300" />
        <di:waypoint x="990" y="225" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_3_di" bpmnElement="Flow_3">
        <di:waypoint x="1015" y="200" />
        <di:waypoint x="1060" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_4_di" bpmnElement="Flow_4">
        <di:waypoint x="1160" y="200" />
        <di:waypoint x="1210" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_5_di" bpmnElement="Flow_5">
        <di:waypoint x="1310" y="200" />
        <di:waypoint x="1355" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_yes_di" bpmnElement="Flow_yes">
        <di:waypoint x="1405" y="200" />
        <di:waypoint x="1450" y="200" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_again_di" bpmnElement="Flow_again">
        <di:waypoint x="1380" y="225" />
        <di:waypoint x="1380" y="380" />
        <di:waypoint x="990" y="380" />
        <di:waypoint x="990" y="225" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_6_di" bpmnElement="Flow_6">
        <di:waypoint x="1550" y="200" />
        <di:waypoint x="1602" y="200" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
$bpmn$ AS conference \gset
SELECT ws.define_bpmn(:'conference') AS wc \gset
SELECT jsonb_pretty(ws.export(:wc));
SELECT * FROM ws.validate(:wc);
-- run to the end with psql as the worker and the people
SELECT ws.start(:wc, '{"city": "Bilbao"}') AS p \gset
SELECT * FROM bp_tasks(:p);
SELECT bp_run(:p, 'Search a location', '{"location": "Euskalduna"}');
SELECT bp_run(:p, 'Send the Call for Papers');
SELECT bp_run(:p, 'Collect papers', '{"papers": 12}');
SELECT * FROM bp_tasks(:p);
SELECT bp_run(:p, 'Mailing'), bp_run(:p, 'Newspapers'), bp_run(:p, 'Poster');
SELECT bp_run(:p, 'Receive subscriptions');
-- not started yet: the default flow loops back to Receive subscriptions
SELECT bp_run(:p, 'Wait until the starting day', '{"started": false}');
SELECT bp_run(:p, 'Receive subscriptions');
SELECT bp_run(:p, 'Wait until the starting day', '{"started": true}');
SELECT bp_run(:p, 'Start the conference');
SELECT state, params FROM ws.process WHERE id = :p;
SELECT * FROM bp_tasks(:p);
-- too few papers: the default flow of "Enough papers?" ends it at the terminate end event
SELECT ws.start(:wc) AS p \gset
SELECT bp_run(:p, 'Search a location'), bp_run(:p, 'Send the Call for Papers');
SELECT bp_run(:p, 'Collect papers', '{"papers": 3}');
SELECT state FROM ws.process WHERE id = :p;
SELECT * FROM bp_tasks(:p);
-- nobody collects the papers for 30 days: the timer boundary event fires
SELECT ws.start(:wc) AS p \gset
SELECT bp_run(:p, 'Search a location'), bp_run(:p, 'Send the Call for Papers');
SELECT t.deadline_at - t.created_at AS deadline FROM ws.task t JOIN ws.node n ON n.id = t.node
 WHERE t.process = :p AND n.name = 'Collect papers';
UPDATE ws.task t SET deadline_at = now() - interval '1 second' FROM ws.node n
 WHERE n.id = t.node AND t.process = :p AND n.name = 'Collect papers';
SELECT ws.tick() >= 1 AS moved;
SELECT state, params->>'deadline' AS deadline FROM ws.process WHERE id = :p;
SELECT * FROM bp_tasks(:p);

------------------------------------------------------------------------------
-- Camunda 8 (Zeebe) files: job types, assignment definitions, a call activity that is
-- multi-instance over a FEEL input collection, an error boundary event, a message catch
-- event correlated by a zeebe:subscription, a timer on a date variable, a FEEL condition
------------------------------------------------------------------------------
SELECT ws.define_bpmn($bpmn$<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1r8v2ye" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.3.0">
  <bpmn:process id="bpmn-review-one" name="bpmn review one" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:serviceTask id="Activity_read" name="Read the paper">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="review.read" retries="1" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="Event_done">
      <bpmn:incoming>Flow_2</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_read" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_read" targetRef="Event_done" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="bpmn-review-one">
      <bpmndi:BPMNShape id="_BPMNShape_StartEvent_2" bpmnElement="StartEvent_1">
        <dc:Bounds x="179" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_read_di" bpmnElement="Activity_read">
        <dc:Bounds x="270" y="77" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_done_di" bpmnElement="Event_done">
        <dc:Bounds x="432" y="99" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="215" y="117" />
        <di:waypoint x="270" y="117" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="370" y="117" />
        <di:waypoint x="432" y="117" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
$bpmn$) AS wchild \gset
SELECT ws.define_bpmn($bpmn$<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" xmlns:modeler="http://camunda.org/schema/modeler/1.0" id="Definitions_1r8v2ye" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0" modeler:executionPlatform="Camunda Cloud" modeler:executionPlatformVersion="8.3.0">
  <bpmn:message id="Message_pay" name="payment">
    <bpmn:extensionElements>
      <zeebe:subscription correlationKey="=invoice" />
    </bpmn:extensionElements>
  </bpmn:message>
  <bpmn:process id="bpmn-review" name="bpmn review" isExecutable="true">
    <bpmn:extensionElements>
      <zeebe:versionTag value="1.0" />
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent_1" name="Papers in">
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:userTask id="Activity_assign" name="Assign reviewers">
      <bpmn:extensionElements>
        <zeebe:assignmentDefinition candidateGroups="ws_bpmn_organization" />
        <zeebe:userTask />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:callActivity id="Activity_review" name="Review each paper">
      <bpmn:extensionElements>
        <zeebe:calledElement processId="bpmn review one" propagateAllChildVariables="false" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
      <bpmn:multiInstanceLoopCharacteristics>
        <bpmn:extensionElements>
          <zeebe:loopCharacteristics inputCollection="=papers" inputElement="paper" outputCollection="reviews" />
        </bpmn:extensionElements>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:callActivity>
    <bpmn:boundaryEvent id="Event_failed" name="Review failed" attachedToRef="Activity_review">
      <bpmn:outgoing>Flow_fail</bpmn:outgoing>
      <bpmn:errorEventDefinition id="ErrorEventDefinition_0x1" />
    </bpmn:boundaryEvent>
    <bpmn:intermediateCatchEvent id="Event_paid" name="Fee paid">
      <bpmn:incoming>Flow_3</bpmn:incoming>
      <bpmn:outgoing>Flow_4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="MessageEventDefinition_1" messageRef="Message_pay" />
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="Event_day" name="Decision day">
      <bpmn:incoming>Flow_4</bpmn:incoming>
      <bpmn:outgoing>Flow_5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TimerEventDefinition_1">
        <bpmn:timeDate xsi:type="bpmn:tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">=decision_day</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:exclusiveGateway id="Gateway_accept" name="Accepted?" default="Flow_no">
      <bpmn:incoming>Flow_5</bpmn:incoming>
      <bpmn:outgoing>Flow_yes</bpmn:outgoing>
      <bpmn:outgoing>Flow_no</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:serviceTask id="Activity_publish" name="Publish">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="review.publish" retries="3" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_yes</bpmn:incoming>
      <bpmn:outgoing>Flow_6</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:serviceTask id="Activity_escalate" name="Escalate">
      <bpmn:extensionElements>
        <zeebe:taskDefinition type="review.escalate" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_fail</bpmn:incoming>
      <bpmn:outgoing>Flow_7</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:endEvent id="Event_published" name="Published">
      <bpmn:incoming>Flow_6</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:endEvent id="Event_rejected" name="Rejected">
      <bpmn:incoming>Flow_no</bpmn:incoming>
      <bpmn:incoming>Flow_7</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Activity_assign" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Activity_assign" targetRef="Activity_review" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Activity_review" targetRef="Event_paid" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Event_paid" targetRef="Event_day" />
    <bpmn:sequenceFlow id="Flow_5" sourceRef="Event_day" targetRef="Gateway_accept" />
    <bpmn:sequenceFlow id="Flow_yes" name="yes" sourceRef="Gateway_accept" targetRef="Activity_publish">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">=accepted = true and score &gt;= 3</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_no" name="no" sourceRef="Gateway_accept" targetRef="Event_rejected" />
    <bpmn:sequenceFlow id="Flow_fail" sourceRef="Event_failed" targetRef="Activity_escalate" />
    <bpmn:sequenceFlow id="Flow_6" sourceRef="Activity_publish" targetRef="Event_published" />
    <bpmn:sequenceFlow id="Flow_7" sourceRef="Activity_escalate" targetRef="Event_rejected" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1">
    <bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="bpmn-review">
      <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1">
        <dc:Bounds x="152" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_assign_di" bpmnElement="Activity_assign">
        <dc:Bounds x="240" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_review_di" bpmnElement="Activity_review">
        <dc:Bounds x="390" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_failed_di" bpmnElement="Event_failed">
        <dc:Bounds x="422" y="142" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_paid_di" bpmnElement="Event_paid">
        <dc:Bounds x="542" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_day_di" bpmnElement="Event_day">
        <dc:Bounds x="622" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_accept_di" bpmnElement="Gateway_accept" isMarkerVisible="true">
        <dc:Bounds x="705" y="95" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_publish_di" bpmnElement="Activity_publish">
        <dc:Bounds x="800" y="80" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Activity_escalate_di" bpmnElement="Activity_escalate">
        <dc:Bounds x="520" y="200" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_published_di" bpmnElement="Event_published">
        <dc:Bounds x="952" y="102" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Event_rejected_di" bpmnElement="Event_rejected">
        <dc:Bounds x="812" y="222" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_1_di" bpmnElement="Flow_1">
        <di:waypoint x="188" y="120" />
        <di:waypoint x="240" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_2_di" bpmnElement="Flow_2">
        <di:waypoint x="340" y="120" />
        <di:waypoint x="390" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_3_di" bpmnElement="Flow_3">
        <di:waypoint x="490" y="120" />
        <di:waypoint x="542" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_4_di" bpmnElement="Flow_4">
        <di:waypoint x="578" y="120" />
        <di:waypoint x="622" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_5_di" bpmnElement="Flow_5">
        <di:waypoint x="658" y="120" />
        <di:waypoint x="705" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_yes_di" bpmnElement="Flow_yes">
        <di:waypoint x="755" y="120" />
        <di:waypoint x="800" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_no_di" bpmnElement="Flow_no">
        <di:waypoint x="730" y="145" />
        <di:waypoint x="730" y="240" />
        <di:waypoint x="812" y="240" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_fail_di" bpmnElement="Flow_fail">
        <di:waypoint x="440" y="178" />
        <di:waypoint x="440" y="240" />
        <di:waypoint x="520" y="240" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_6_di" bpmnElement="Flow_6">
        <di:waypoint x="900" y="120" />
        <di:waypoint x="952" y="120" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_7_di" bpmnElement="Flow_7">
        <di:waypoint x="620" y="240" />
        <di:waypoint x="812" y="240" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
$bpmn$) AS wr \gset
SELECT jsonb_pretty(ws.export(:wchild));
SELECT jsonb_pretty(ws.export(:wr));
SELECT ws.start('bpmn review', '{"papers": ["p1", "p2"], "invoice": "A-7", "decision_day": "2020-01-01T00:00:00Z"}') AS p \gset
SELECT bp_run(:p, 'Assign reviewers');
-- one child process per paper, each with its paper
SELECT pr.id, pr.state, pr.params->>'paper' AS paper FROM ws.process pr WHERE pr.root = :p AND pr.id <> :p ORDER BY pr.id;
SELECT bp_run(c.id, 'Read the paper', jsonb_build_object('score', 3 + c.n))
  FROM (SELECT pr.id, row_number() OVER (ORDER BY pr.id) AS n FROM ws.process pr WHERE pr.root = :p AND pr.id <> :p) c;
SELECT * FROM bp_tasks(:p);
-- the message with another key does not reach it; the right one does
SELECT ws.send('payment', 'A-8', '{"accepted": true}') AS reached;
SELECT ws.send('payment', 'A-7', '{"accepted": true, "score": 4}') AS reached;
SELECT ws.tick() >= 1 AS moved;
SELECT bp_run(:p, 'Publish');
SELECT state, params->'reviews' AS reviews FROM ws.process WHERE id = :p;
SELECT * FROM bp_tasks(:p);
-- a review fails: the error boundary event takes the process to Escalate
SELECT ws.start('bpmn review', '{"papers": ["p3"], "invoice": "A-9", "decision_day": "2020-01-01T00:00:00Z"}') AS p \gset
SELECT bp_run(:p, 'Assign reviewers');
-- (zeebe:taskDefinition retries="1" is one attempt: retries 0)
SELECT ws.fail(c.task, 'reviewer unreachable') FROM ws.claim(ARRAY['review.read'], 'bpmn worker') c;
SELECT state, params->'error' AS error FROM ws.process WHERE id = :p;
SELECT bp_run(:p, 'Escalate');
SELECT state FROM ws.process WHERE id = :p;

------------------------------------------------------------------------------
-- Public example diagrams, unchanged (test/regress/data/README.md names their sources and
-- licences): bpmn.io's QR code process loads and runs; the others are refused, each
-- naming the first element ws has no counterpart of
------------------------------------------------------------------------------
\getenv abs_srcdir PG_ABS_SRCDIR
\set qr `cat :'abs_srcdir'/data/qr-code.bpmn`
\set starter `cat :'abs_srcdir'/data/starter-diagram.bpmn`
SELECT ws.define_bpmn(:'qr') AS wq \gset
SELECT jsonb_pretty(ws.export(:wq));
-- every node is a routing node: ws.start runs it to its end; the exclusive gateway's
-- flows have no conditions, so the first one (No) is taken
SELECT ws.start(:wq) AS p \gset
SELECT state FROM ws.process WHERE id = :p;
SELECT * FROM bp_tasks(:p);
-- the starter diagram is the same process with its elements in another order
SELECT ws.export(ws.define_bpmn(:'starter')) -> 'nodes' AS starter_nodes;
\set pizza `cat :'abs_srcdir'/data/pizza-collaboration.bpmn`
\set invoice `cat :'abs_srcdir'/data/invoice.v2.bpmn`
\set review `cat :'abs_srcdir'/data/reviewInvoice.bpmn`
\set variables `cat :'abs_srcdir'/data/engine-variable-workflow.bpmn`
SELECT bp_load(:'pizza');
SELECT bp_load(:'invoice');
SELECT bp_load(:'review');
SELECT bp_load(:'variables');

------------------------------------------------------------------------------
-- Conditions: JUEL and FEEL of the simple forms become jsonpath
------------------------------------------------------------------------------
SELECT e AS expression, ws_internal.bpmn_expression(e, 'test', true) AS jsonpath
  FROM unnest(ARRAY['${papers >= 10}', '${approved}', '${!approved}', '${not approved}', '#{amount gt 100}',
                    '${status == ''open'' && priority le 2}', '${a.b != null || (c < 1.5 and d eq "x")}',
                    '= papers >= 10', '=approved', '=status = "open" or not(done)', '=customer.vip = true',
                    '${!(a > 1)}']) AS e;
SELECT e AS expression, ws_internal.bpmn_expression(e, 'test', false) AS path
  FROM unnest(ARRAY['${papers}', '=order.items', 'papers']) AS e;
SELECT e AS expression, bp_attempt(format('SELECT ws_internal.bpmn_expression(%L, %L, true)', e, 'condition of sequenceFlow "f"'))
  FROM unnest(ARRAY['${orders.size() > 3}', '${a + 1 > 2}', '=count(items) > 1', 'papers > 3', '${a >}',
                    '${(a > 1}', '${10}', '${a > 1 &&}', '=a > 1 ? b']) AS e;

------------------------------------------------------------------------------
-- What is refused: 22023 naming the element and its id (bad XML: 2200M), nothing stored
------------------------------------------------------------------------------
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT bp_load(NULL);
SELECT bp_load('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">');
SELECT bp_load('<definitions xmlns="http://www.omg.org/spec/BPMN/20100501/MODEL"><process id="p"/></definitions>');
SELECT bp_load('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>');
-- a document type is refused before parsing: no entity, external or not, is ever read
SELECT bp_load('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p"><bpmn:documentation>&x;</bpmn:documentation><bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>');
SELECT bp_load('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p"><bpmn:documentation>&x;</bpmn:documentation></bpmn:process></bpmn:definitions>');
SELECT bp_load('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"><bpmn:message id="m" name="x"/></bpmn:definitions>');
SELECT bp_load(replace(bp_file(''), '</bpmn:definitions>', '<bpmn:process id="Process_other"/></bpmn:definitions>'));
SELECT bp_load(bp_file('', '<bpmn:collaboration id="c"><bpmn:participant id="a" processRef="Process_small"/><bpmn:participant id="b"/></bpmn:collaboration>'));
SELECT bp_load(bp_file('', '<foo:thing xmlns:foo="urn:foo" id="t"/>'));
SELECT bp_load(bp_file('', '<bpmn:dataStore id="store"/>'));
SELECT bp_load(bp_one('<bpmn:task id="x" name="dup"/><bpmn:task id="s" name="dup"/>'));
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="nowhere" />'));
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" />'));
SELECT bp_load(bp_one('<bpmn:task id="x" name="a"/><bpmn:task id="y" name="a"/><bpmn:sequenceFlow id="f3" sourceRef="x" targetRef="y" />'));
-- elements without a counterpart
SELECT bp_load(bp_one('<bpmn:subProcess id="x"><bpmn:startEvent id="inner"/></bpmn:subProcess>'));
SELECT bp_load(bp_one('<bpmn:transaction id="x"/>'));
SELECT bp_load(bp_one('<bpmn:eventBasedGateway id="x"/>'));
SELECT bp_load(bp_one('<bpmn:complexGateway id="x"/>'));
SELECT bp_load(bp_one('<bpmn:callChoreography id="x"/>'));
SELECT bp_load(bp_one('<foo:task xmlns:foo="urn:foo" id="x"/>'));
SELECT bp_load(replace(bp_one('<bpmn:task id="x"/>'), '<bpmn:startEvent id="s" />',
               '<bpmn:startEvent id="s"><bpmn:messageEventDefinition id="md" messageRef="m"/></bpmn:startEvent>'));
SELECT bp_load(replace(bp_one('<bpmn:task id="x"/>'), '<bpmn:startEvent id="s" />',
               '<bpmn:startEvent id="s"><bpmn:timerEventDefinition id="td"><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>'));
SELECT bp_load(replace(bp_one('<bpmn:task id="x"/>'), '<bpmn:endEvent id="e" />',
               '<bpmn:endEvent id="e"><bpmn:errorEventDefinition id="ed"/></bpmn:endEvent>'));
SELECT bp_load(replace(bp_one('<bpmn:task id="x"/>'), '<bpmn:endEvent id="e" />',
               '<bpmn:endEvent id="e"><bpmn:messageEventDefinition id="md"/></bpmn:endEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateThrowEvent id="x"><bpmn:signalEventDefinition id="sd"/></bpmn:intermediateThrowEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:signalEventDefinition id="sd"/></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:conditionalEventDefinition id="cd"/></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:linkEventDefinition id="ld" name="l"/></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition id="td"><bpmn:timeCycle>R3/PT10M</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition id="td"><bpmn:timeDuration>${delay}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:timerEventDefinition id="td"/></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:intermediateCatchEvent id="x"><bpmn:messageEventDefinition id="md" messageRef="nope"/></bpmn:intermediateCatchEvent>'));
SELECT bp_load(bp_one('<bpmn:receiveTask id="x"/>'));
SELECT bp_load(bp_one('<bpmn:receiveTask id="x" messageRef="m" instantiate="true"/>', '<bpmn:message id="m" name="go"/>'));
-- tasks: what would run code, or has no action or role
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:class="org.example.Charge"/>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:expression="${charge.run()}"/>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="connector"/>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" name="Charge"/>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x"><bpmn:extensionElements><zeebe:taskDefinition type="=kind" /></bpmn:extensionElements></bpmn:serviceTask>'));
SELECT bp_load(bp_one('<bpmn:scriptTask id="x" scriptFormat="groovy"><bpmn:script>println 1</bpmn:script></bpmn:scriptTask>'));
SELECT bp_load(bp_one('<bpmn:scriptTask id="x"><bpmn:script>println 1</bpmn:script></bpmn:scriptTask>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x" name="Approve"/>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x" camunda:assignee="demo"/>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x" camunda:candidateGroups="sales, management"/>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x"><bpmn:extensionElements><zeebe:assignmentDefinition assignee="demo" /></bpmn:extensionElements></bpmn:userTask>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x" camunda:candidateGroups="ws_bpmn_accounting"><bpmn:extensionElements><camunda:inputOutput><camunda:inputParameter name="a">1</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'));
SELECT bp_load(bp_one('<bpmn:userTask id="x" camunda:candidateGroups="ws_bpmn_accounting"><bpmn:extensionElements><camunda:executionListener event="start" class="a.B"/></bpmn:extensionElements></bpmn:userTask>'));
SELECT bp_load(bp_one('<bpmn:task id="x" foo:color="red" xmlns:foo="urn:foo"/>'));
SELECT bp_load(bp_one('<bpmn:task id="x" isForCompensation="true"/>'));
SELECT bp_load(bp_one('<bpmn:task id="x" ws:colour="red"/>'));
SELECT bp_load(bp_one('<bpmn:task id="x" ws:retries="many"/>'));
SELECT bp_load(bp_one('<bpmn:task id="x" ws:params="{oops"/>'));
SELECT bp_load(bp_one('<bpmn:callActivity id="x"/>'));
SELECT bp_load(bp_one('<bpmn:callActivity id="x" calledElement="bpmn review one" camunda:calledElementBinding="version"/>'));
-- loops
SELECT bp_load(bp_one('<bpmn:task id="x"><bpmn:standardLoopCharacteristics/></bpmn:task>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"><bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}"><bpmn:completionCondition>${done}</bpmn:completionCondition></bpmn:multiInstanceLoopCharacteristics></bpmn:serviceTask>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"><bpmn:multiInstanceLoopCharacteristics/></bpmn:serviceTask>'));
-- boundary events
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="x" cancelActivity="false"><bpmn:timerEventDefinition id="td"><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:messageEventDefinition id="md"/></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:timerEventDefinition id="td"><bpmn:timeDate>2030-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:errorEventDefinition id="ed" errorRef="err"/></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />', '<bpmn:error id="err" errorCode="E1"/>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:errorEventDefinition id="ed"/></bpmn:boundaryEvent>'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b" attachedToRef="s"><bpmn:errorEventDefinition id="ed"/></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />'));
SELECT bp_load(bp_one('<bpmn:serviceTask id="x" camunda:type="external" camunda:topic="t"/><bpmn:boundaryEvent id="b1" attachedToRef="x"><bpmn:timerEventDefinition id="t1"><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:boundaryEvent id="b2" attachedToRef="x"><bpmn:timerEventDefinition id="t2"><bpmn:timeDuration>PT2H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b1" targetRef="e" /><bpmn:sequenceFlow id="f4" sourceRef="b2" targetRef="e" />'));
-- ws.define's own validation: a boundary path from a plain task (a routing node)
SELECT bp_load(bp_one('<bpmn:task id="x"/><bpmn:boundaryEvent id="b" attachedToRef="x"><bpmn:errorEventDefinition id="ed"/></bpmn:boundaryEvent><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e" />'));
-- flows and gateways
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${orders.size() &gt; 3}</bpmn:conditionExpression></bpmn:sequenceFlow>'));
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="javascript">a &gt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>'));
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="jsonpath">$.a &gt;&gt; 3</bpmn:conditionExpression></bpmn:sequenceFlow>'));
SELECT bp_load(bp_file('<bpmn:parallelGateway id="g"/><bpmn:task id="a"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" /><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${ok}</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="e" /><bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="e" />'));
SELECT bp_load(bp_file('<bpmn:inclusiveGateway id="g" default="f3"/><bpmn:task id="a"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" /><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="a" /><bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="e" /><bpmn:sequenceFlow id="f4" sourceRef="a" targetRef="e" />'));
SELECT bp_load(bp_file('<bpmn:exclusiveGateway id="g" default="f1"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" /><bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="e" />'));
SELECT bp_load(bp_file('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e" /><bpmn:sequenceFlow id="f2" sourceRef="e" targetRef="s" />'));
-- nothing was stored by any of them
SELECT count(*) - :workflows_before AS stored FROM ws.workflow;

------------------------------------------------------------------------------
-- Accepted on the way: an inclusive gateway's default flow is taken when no other
-- condition holds, drawings without behaviour (lanes, annotations, groups, data objects)
-- are read past, ws: attributes set any node key, a plain task is a routing node
------------------------------------------------------------------------------
SELECT ws.define_bpmn(bp_file('<bpmn:inclusiveGateway id="g" default="f4"/>
    <bpmn:serviceTask id="a" name="A" camunda:type="external" camunda:topic="bp.a" ws:retries="2" ws:params="{&quot;n&quot;: 1}"/>
    <bpmn:serviceTask id="b" name="B" camunda:type="external" camunda:topic="bp.b"/>
    <bpmn:textAnnotation id="note"><bpmn:text>read past</bpmn:text></bpmn:textAnnotation>
    <bpmn:association id="assoc" sourceRef="note" targetRef="a"/>
    <bpmn:inclusiveGateway id="j"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g" />
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="a"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${x &gt; 1}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="b"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${y}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="g" targetRef="j" />
    <bpmn:sequenceFlow id="f5" sourceRef="a" targetRef="j" />
    <bpmn:sequenceFlow id="f6" sourceRef="b" targetRef="j" />
    <bpmn:sequenceFlow id="f7" sourceRef="j" targetRef="e" />')) AS wi \gset
SELECT jsonb_pretty(ws.export(:wi));
SELECT ws.start(:wi, '{"x": 0, "y": false}') AS p \gset
SELECT state FROM ws.process WHERE id = :p;
SELECT ws.start(:wi, '{"x": 2, "y": false}') AS p \gset
SELECT * FROM bp_tasks(:p);

------------------------------------------------------------------------------
-- ws.to_bpmn: a file the modelers open (checked with bpmn-js in Chromium: no import
-- warnings), with a shape for every flow node and an edge for every flow
------------------------------------------------------------------------------
SELECT ws.define('{"name": "bpmn small out", "params": {"city": "Bilbao"}, "description": "A & B <small>",
  "nodes": [{"name": "begin", "start": true}, {"name": "ask", "role": "ws_bpmn_accounting", "deadline": "2 days"},
            {"name": "pause", "wait": "1 hour 30 minutes"}, {"name": "done", "end": true}],
  "transitions": [{"from": "begin", "to": "ask"}, {"from": "ask", "to": "pause", "condition": "$.ok == true"},
                  {"from": "ask", "to": "done", "on": "deadline"}, {"from": "pause", "to": "done"}]}') AS ws \gset
SELECT ws.to_bpmn(:ws);
SELECT ws.to_bpmn('bpmn small out')::text = ws.to_bpmn(:ws)::text AS by_name;
SELECT bp_attempt('SELECT ws.to_bpmn(0)'), bp_attempt('SELECT ws.to_bpmn(''no such workflow'')');
-- every element of the conference has a shape, every flow an edge, every flow joins elements
WITH d AS (SELECT ws.to_bpmn(:wc) AS x),
     ns AS (SELECT ARRAY[ARRAY['b', 'http://www.omg.org/spec/BPMN/20100524/MODEL'],
                         ARRAY['di', 'http://www.omg.org/spec/BPMN/20100524/DI']] AS n)
SELECT (SELECT count(*) FROM unnest(xpath('/b:definitions/b:process/*[local-name() != "sequenceFlow" and local-name() != "documentation"]', x, n))) AS flow_nodes,
       (SELECT count(*) FROM unnest(xpath('//di:BPMNShape', x, n))) AS shapes,
       (SELECT count(*) FROM unnest(xpath('/b:definitions/b:process/b:sequenceFlow', x, n))) AS flows,
       (SELECT count(*) FROM unnest(xpath('//di:BPMNEdge[count(*) >= 2]', x, n))) AS edges,
       (SELECT count(*) FROM unnest(xpath('/b:definitions/b:process/b:sequenceFlow[not(@sourceRef = ../*/@id) or not(@targetRef = ../*/@id)]', x, n))) AS dangling
  FROM d, ns;

------------------------------------------------------------------------------
-- Round trips: ws -> BPMN -> ws gives the same ws.export document, for every workflow
-- of this file and for the suite's others with every node key
------------------------------------------------------------------------------
SELECT ws.define($${"name": "conference", "params": {"city": "Bilbao"},
  "nodes": [
    {"name": "Send the Call for Papers", "action": "conferencer.tasks.mailing", "role": "ws_bpmn_organization",
     "start": true, "split": "and"},
    {"name": "Search a location", "action": "conferencer.tasks.search", "role": "ws_bpmn_organization", "start": true},
    {"name": "Collect papers", "role": "ws_bpmn_accounting", "join": "and"},
    {"name": "Publicize", "join": "and", "split": "and"},
    {"name": "Mailing", "action": "conferencer.tasks.mailing"},
    {"name": "Newspapers", "action": "conferencer.tasks.newspapers"},
    {"name": "Poster", "action": "conferencer.tasks.poster"},
    {"name": "Receive subscriptions", "action": "conferencer.tasks.subscriptions", "join": "or"},
    {"name": "Wait until the starting day", "action": "conferencer.tasks.calendar", "split": "xor"},
    {"name": "Start the conference", "role": "ws_bpmn_organization", "end": true}],
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
    {"from": "Wait until the starting day", "to": "Start the conference", "condition": "$.started == true", "priority": 1},
    {"from": "Wait until the starting day", "to": "Receive subscriptions", "priority": 2}]}$$) IS NOT NULL AS seed;
SELECT ws.define('{"name": "Review paper", "nodes": [
  {"name": "Assign reviewer", "action": "cd.assign"},
  {"name": "Review", "action": "cd.review"}],
  "transitions": [{"from": "Assign reviewer", "to": "Review"}]}') IS NOT NULL AS child;
SELECT ws.define('{"name": "every key", "params": {"a": [1, 2]}, "description": "all the node keys",
  "nodes": [
    {"name": "one", "action": "k.one", "role": "ws_bpmn_organization", "start": true, "params": {"p": "q"},
     "retries": 3, "wait": "PT5M", "split": "xor"},
    {"name": "two", "start": true, "join": "or", "split": "or", "wait_until": "$.when", "due": "1 day"},
    {"name": "papers", "call": "Review paper", "foreach": "$.papers", "item": "paper", "sequential": true,
     "as": "reviews", "deadline": "3 days", "retries": 1},
    {"name": "keynote", "call": "Review paper", "as": "keynote"},
    {"name": "pay", "message": "payment", "correlate": "$.invoice", "deadline": "1 day", "join": "xor"},
    {"name": "mail", "action": "k.mail", "foreach": "$.authors", "join": "and", "split": "and"},
    {"name": "hub", "join": "or", "split": "xor"},
    {"name": "fan", "join": "and", "split": "and"},
    {"name": "late", "action": "k.late", "join": "xor"},
    {"name": "left", "action": "k.left"},
    {"name": "right", "action": "k.right"},
    {"name": "last", "end": true, "join": "or"},
    {"name": "also last", "action": "k.end", "end": true}],
  "transitions": [
    {"from": "one", "to": "papers", "condition": "$.go == true", "priority": 2},
    {"from": "one", "to": "keynote", "priority": -1},
    {"from": "one", "to": "one", "condition": "$.again == true", "priority": 5},
    {"from": "two", "to": "pay"},
    {"from": "papers", "to": "mail"}, {"from": "keynote", "to": "mail"},
    {"from": "papers", "to": "late", "on": "deadline"},
    {"from": "papers", "to": "late", "on": "failure", "condition": "$.error.node == \"papers\""},
    {"from": "pay", "to": "hub"}, {"from": "mail", "to": "hub"},
    {"from": "pay", "to": "late", "on": "deadline"},
    {"from": "hub", "to": "fan", "condition": "$.n > 1"}, {"from": "hub", "to": "last"},
    {"from": "fan", "to": "left", "condition": "$.l == true"}, {"from": "fan", "to": "right"},
    {"from": "left", "to": "last"}, {"from": "right", "to": "last"}, {"from": "late", "to": "last"},
    {"from": "right", "to": "also last"}]}') AS wk \gset
SELECT * FROM ws.validate(:wk);
SELECT w.name, w.version, bp_round(w.id) AS round_trip
  FROM ws.workflow w WHERE w.id <= (SELECT max(id) FROM ws.workflow) ORDER BY w.id;

DROP FUNCTION bp_attempt(text), bp_load(text), bp_file(text, text), bp_one(text, text), bp_run(bigint, text, jsonb),
              bp_tasks(bigint), bp_round(bigint);
DROP ROLE ws_bpmn_organization, ws_bpmn_accounting;
