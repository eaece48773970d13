// The OpenAPI document served at /api/openapi.json validates against the OpenAPI 3.1 schema (and
// the extra checks of @readme/openapi-parser: duplicate operation ids, dangling $refs, …), and
// describes the endpoints a client of the schedule needs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validate } from '@readme/openapi-parser';
import { startServer } from './harness.mjs';

test('the OpenAPI document validates and covers the schedule API', async () => {
  const server = await startServer();
  try {
    const res = await fetch(`${server.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    const result = await validate(structuredClone(doc));
    assert.ok(result.valid, JSON.stringify(result.errors ?? result, null, 2));
    assert.match(doc.openapi, /^3\.1\./);
    for (const [path, method] of [
      ['/api/schools', 'post'],
      ['/api/classrooms/{id}', 'put'],
      ['/api/pairs', 'post'],
      ['/api/sessions', 'get'],
      ['/api/sessions', 'post'],
      ['/api/sessions/{id}/links', 'post'],
      ['/api/sessions/{id}/start', 'post'],
      ['/api/sessions/{id}/end', 'post'],
    ]) {
      assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
      assert.deepEqual(doc.paths[path][method].security, [{ operator: [] }], `${path} needs the operator`);
    }
    const responses = doc.paths['/api/sessions'].post.responses;
    assert.ok(responses['400'] && responses['409'], 'field errors and clashes are documented');
    for (const schema of ['SessionDraft', 'SessionView', 'ApiErrorBody', 'FieldError', 'Comparison', 'WeeklyDraft']) {
      assert.ok(doc.components.schemas[schema], `schema ${schema}`);
    }
  } finally {
    await server.stop();
  }
});
