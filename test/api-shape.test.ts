// The public API as a client meets it: no type shadows a root operation type, and lineage reaches the subscription.
import { client, draftInvoice } from './support';

it('has no subscription root: the domain type is PlanSubscription, so introspection reports no subscription type', async () => {
  const { __schema } = await client().ok(`{ __schema { subscriptionType { name } types { name } } }`);
  expect(__schema.subscriptionType).toBeNull();
  const names = __schema.types.map((t: { name: string }) => t.name);
  expect(names).toContain('PlanSubscription');
  expect(names).not.toContain('Subscription');
});

it('walks from an invoice to its subscription and the subscription’s status', async () => {
  const { invoiceId, subscriptionId } = await draftInvoice('shape', 3);
  const { invoice } = await client().ok(
    `query($id: ID!) { invoice(id: $id) { subscription { id status customer { id } } } }`,
    { id: invoiceId },
  );
  expect(invoice.subscription).toEqual({ id: subscriptionId, status: 'ACTIVE', customer: { id: expect.any(String) } });
});
