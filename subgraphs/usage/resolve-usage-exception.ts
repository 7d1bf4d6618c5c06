// Use case: finance resolves held usage with an action, not a note: map the key to a customer, create the customer,
// or create the subscription that covers the period. The usage stage holds the events, so it runs the action (asking
// the subscriptions subgraph, which owns customers, on the person's behalf), records who did it and how, and releases
// the held events at once; the work queue hears how it ended.
import { UserFacingError, notFound } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { querySubgraph } from '../../lib/subgraph-client';
import { releaseHeldEvents } from './release-held-events';
import type { UsageExceptionDoc, UsageStore } from './store';

export interface UsageExceptionResolution {
  mapToCustomerKey?: string | null;
  createCustomer?: { name: string; currency: string; legalEntityCode?: string | null } | null;
  createSubscription?: { pricePlanId: string; startsAt: Date | string; endsAt?: Date | string | null } | null;
}

interface CustomerRef {
  id: string;
  externalKey: string;
  name: string;
}

const iso = (d: Date | string) => (d instanceof Date ? d.toISOString() : d);

async function runAction(
  e: UsageExceptionDoc,
  r: UsageExceptionResolution,
): Promise<{ action: string; detail: string }> {
  const given = [r.mapToCustomerKey, r.createCustomer, r.createSubscription].filter((x) => x != null).length;
  if (given !== 1) {
    throw new UserFacingError('VALIDATION_FAILED', 'resolution: name exactly one action', {
      field: 'resolution',
      expected: 'one of mapToCustomerKey, createCustomer, createSubscription',
    });
  }
  if (r.mapToCustomerKey != null) {
    if (e.code !== 'CUSTOMER_UNKNOWN') throw wrongAction(e, 'resolution.mapToCustomerKey');
    const { customerByExternalKey: target } = await querySubgraph<{ customerByExternalKey: CustomerRef | null }>(
      'subscriptions',
      'query($k: String!) { customerByExternalKey(externalKey: $k) { id externalKey name } }',
      { k: r.mapToCustomerKey },
    );
    if (!target) {
      throw new UserFacingError('NOT_FOUND', `no customer has the key "${r.mapToCustomerKey}"`, {
        field: 'resolution.mapToCustomerKey',
        expected: "an existing customer's external key or alias",
      });
    }
    await querySubgraph(
      'subscriptions',
      'mutation($c: ID!, $a: String!) { addCustomerAlias(customerId: $c, alias: $a) { id } }',
      {
        c: target.id,
        a: e.customerKey,
      },
    );
    return {
      action: 'MAPPED_TO_CUSTOMER',
      detail: `"${e.customerKey}" mapped to customer ${target.name} (${target.externalKey})`,
    };
  }
  if (r.createCustomer != null) {
    if (e.code !== 'CUSTOMER_UNKNOWN') throw wrongAction(e, 'resolution.createCustomer');
    const { upsertCustomer } = await querySubgraph<{ upsertCustomer: CustomerRef }>(
      'subscriptions',
      'mutation($i: UpsertCustomerInput!) { upsertCustomer(input: $i) { id externalKey name } }',
      {
        i: {
          externalKey: e.customerKey,
          name: r.createCustomer.name,
          currency: r.createCustomer.currency,
          legalEntityCode: r.createCustomer.legalEntityCode ?? 'DEFAULT',
        },
      },
    );
    return {
      action: 'CUSTOMER_CREATED',
      detail: `customer ${upsertCustomer.name} created with the key "${e.customerKey}"`,
    };
  }
  if (e.code !== 'SUBSCRIPTION_NOT_ACTIVE') throw wrongAction(e, 'resolution.createSubscription');
  const s = r.createSubscription!;
  const { createSubscription } = await querySubgraph<{ createSubscription: { id: string } }>(
    'subscriptions',
    'mutation($i: CreateSubscriptionInput!) { createSubscription(input: $i) { id } }',
    {
      i: {
        customerExternalKey: e.customerKey,
        pricePlanId: s.pricePlanId,
        startsAt: iso(s.startsAt),
        endsAt: s.endsAt ? iso(s.endsAt) : null,
      },
    },
  );
  return {
    action: 'SUBSCRIPTION_CREATED',
    detail: `subscription ${createSubscription.id} created for "${e.customerKey}" from ${iso(s.startsAt)}`,
  };
}

function wrongAction(e: UsageExceptionDoc, field: string): UserFacingError {
  return new UserFacingError('VALIDATION_FAILED', `${field} does not fit an exception of code ${e.code}`, {
    field,
    expected:
      e.code === 'CUSTOMER_UNKNOWN'
        ? 'mapToCustomerKey or createCustomer (the key belongs to no customer)'
        : 'createSubscription (the customer exists but had no subscription then)',
  });
}

export async function resolveUsageException(
  store: UsageStore,
  log: Logger,
  id: string,
  resolution: UsageExceptionResolution,
  actor: string,
): Promise<UsageExceptionDoc> {
  const exception = await store.exceptions.findOne({ _id: id });
  if (!exception) throw notFound('usage exception', 'id', id);
  if (exception.status !== 'OPEN') {
    throw new UserFacingError('CONFLICT', `usage exception ${id} is already resolved`, {
      field: 'id',
      expected: 'an OPEN usage exception',
    });
  }
  const done = await runAction(exception, resolution);
  await store.locks.run(id, async () => {
    const latest = (await store.exceptions.findOne({ _id: id })) ?? exception;
    await store.exceptions.replaceOne(
      { _id: id },
      { ...latest, resolutionRequest: { ...done, by: actor, at: new Date() } },
    );
  });
  await releaseHeldEvents(store, log, id);
  return (await store.exceptions.findOne({ _id: id }))!;
}
