import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";
/** One GraphQL operation over HTTP POST with fetch. */
export async function gql(url, query, variables = {}) {
    const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json" },
        body: JSON.stringify({ query, variables }),
    });
    return (await response.json());
}
/** Like gql, but fails the test on any GraphQL error. */
export async function gqlData(url, query, variables = {}) {
    const result = await gql(url, query, variables);
    if (result.errors?.length)
        throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data;
}
/** A graphql-ws client on the same /graphql path. */
export function wsClient(url) {
    return createWsClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
}
function collector() {
    const items = [];
    const errors = [];
    const waiters = [];
    let complete;
    const completed = new Promise((resolve) => (complete = resolve));
    const check = () => {
        for (const w of [...waiters])
            if (items.length >= w.n) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve();
            }
    };
    return {
        items,
        errors,
        completed,
        waitFor: (n) => new Promise((resolve) => {
            waiters.push({ n, resolve });
            check();
        }),
        dispose: () => { },
        push: (t) => {
            items.push(t);
            check();
        },
        fail: (e) => {
            errors.push(e);
            complete();
        },
        complete: () => complete(),
    };
}
/** Subscribes over WebSocket (graphql-ws) and collects the `field` of each payload. */
export function subscribeWs(client, query, field, variables = {}) {
    const c = collector();
    const dispose = client.subscribe({ query, variables }, {
        next: (value) => (value.errors ? c.fail(value.errors) : c.push(value.data[field])),
        error: (error) => c.fail(error),
        complete: () => c.complete(),
    });
    c.dispose = dispose;
    return c;
}
/** Subscribes over Server-Sent Events (graphql-sse, distinct connections mode) and collects payloads. */
export function subscribeSse(url, query, field, variables = {}) {
    const client = createSseClient({ url, singleConnection: false, retryAttempts: 0 });
    const c = collector();
    const dispose = client.subscribe({ query, variables }, {
        next: (value) => (value.errors ? c.fail(value.errors) : c.push(value.data[field])),
        error: (error) => c.fail(error),
        complete: () => {
            c.complete();
            client.dispose();
        },
    });
    c.dispose = () => {
        dispose();
        client.dispose();
    };
    return c;
}
//# sourceMappingURL=graphql.js.map