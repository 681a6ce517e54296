/**
 * Flows: a graph of jobs created in one request, and the graph a job belongs to.
 *
 * - `POST /flows` `{jobs: [{ref, ...job, depends_on: [ref or id]}]}` → 201
 *   `{jobs: {ref: id}}`: every job validated first (a bad one: 422 naming its
 *   index; duplicate refs, unknown refs, cycles: 422 naming them; an
 *   unknown job id: 422 `unknown_dependency`), then written in one script
 *   call per queue, all in one MULTI/EXEC on standalone Redis, so a flow is
 *   all or nothing (on Cluster, across masters, per queue). A flow has no
 *   idempotency key (503 `outcome_unknown` says so).
 * - `GET /flows/:id` → `{nodes, edges, truncated}` around any job of the flow.
 *
 * A key confined to a tenant builds flows in its own queues, from its own
 * jobs only, within its quotas; its graph shows none of another tenant's
 * jobs, and another tenant's id is 404.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { type SubmitSpan, submitSpan } from "../../tracing/submit_span.ts";
import { traced } from "../traced.ts";
import { readJsonBody } from "../body.ts";
import { HttpError } from "../errors.ts";
import type { RouteDeps } from "../deps.ts";
import { parseOr400, parseOr422 } from "../validation.ts";
import { flowJobSchema, flowSchema, jobIdSchema } from "../schemas.ts";
import { checkQueueName } from "../queue_param.ts";
import { admitted, ownDependencies, toInput } from "./jobs.ts";
import { callerTenant, jobVisible, ownName } from "../tenant_scope.ts";
import { applyQuota } from "../tenant_quota.ts";
import { TENANT_DEFAULT_QUEUE, visibleTo } from "../../tenants/names.ts";
import { buildFlow, type FlowJob, FlowRefusal } from "../../flows/build.ts";
import { flowGraph } from "../../flows/graph.ts";

/** Routes of flows, mounted under `/api/v1`. */
export function flowRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.post("/flows", (c) => {
    const span = submitSpan(deps.tracer, c.req.raw.headers, "POST /api/v1/flows", false);
    return traced(span, () => submitFlow(c, span));
  });

  const submitFlow = async (c: Context, span: SubmitSpan) => {
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, deps.maxBatchBodyBytes, ticket);
    const { jobs } = parseOr422(flowSchema, body, "flow");
    const tenant = callerTenant(c);
    const parsed: FlowJob[] = jobs.map((item, index) => {
      const prefix = ["jobs", index];
      if (item !== null && typeof item === "object" && "queue" in item) {
        checkQueueName((item as { queue: unknown }).queue, [...prefix, "queue"].join("."));
      }
      const request = parseOr422(flowJobSchema, item, "flow job", prefix);
      const input = admitted(deps, toInput(request), prefix.join("."));
      if (tenant !== null) {
        input.queue = ownName(
          tenant,
          input.queue ?? TENANT_DEFAULT_QUEUE,
          [...prefix, "queue"].join("."),
        );
      }
      return { ref: request.ref, input, dependsOn: request.depends_on ?? [] };
    });
    const home = await deps.call(deps.broker.homeQueue());
    let flow;
    try {
      flow = buildFlow(parsed, home, deps.broker.defaultQueue);
    } catch (error) {
      if (error instanceof FlowRefusal) {
        throw new HttpError(422, error.code, error.message, error.details);
      }
      throw error;
    }
    // One span for the flow: each job's attempts continue it.
    for (const input of flow.inputs) span.stamp(input);
    await ownDependencies(deps, tenant, flow.inputs);
    if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, flow.inputs);
    await deps.write(deps.broker.enqueueBatch(flow.inputs), "flow");
    span.note({ "job.count": flow.inputs.length });
    return c.json({ jobs: flow.ids }, 201);
  };

  app.get("/flows/:id", async (c) => {
    const id = parseOr400(jobIdSchema, c.req.param("id"), "invalid_job_id", "job id");
    const tenant = callerTenant(c);
    const visible = await jobVisible(deps, tenant, id);
    const graph = visible ? await deps.call(flowGraph(deps.broker, id)) : null;
    if (!graph) throw new HttpError(404, "not_found", `job ${id} not found`);
    if (tenant === null) return c.json(graph);
    // Another tenant's jobs in the graph (a link an admin made) are left out, with their edges.
    const nodes = graph.nodes.filter((n) => visibleTo(tenant, n.queue));
    const shown = new Set(nodes.map((n) => n.job_id));
    return c.json({
      ...graph,
      nodes,
      edges: graph.edges.filter((e) => shown.has(e.from) && shown.has(e.to)),
    });
  });

  return app;
}
