// Every GraphQL operation the console sends, by name: the console is a client of the graph like any other, and the
// test suite validates each of these against the governed API schema (console/operations.test.ts).
const MONEY = 'amount currency';

const WORK_ITEM = `id kind source status problem remedy customerKey period raisedAt lastRaisedAt ageSeconds assignee
  held { count unit quantity amounts { ${MONEY} } }
  references { name value } sampleRecordIds correlationId details
  resolution { action detail afterwards resolvedBy resolvedAt }
  dismissal { reason dismissedBy dismissedAt }
  history { at what by detail }`;

const TAX_LINE = `jurisdiction name ratePercent taxableAmount { ${MONEY} } amount { ${MONEY} }`;

const POSTING_OF_INVOICE = `id postingKey kind documentNumber status postedAt correlationId exceptionId
  lastError { code message kind }
  erpDocument { system documentId location postedAt }
  journalEntry: entry { postingDate accountingPeriod lines { lineNo account side amount { ${MONEY} } memo } }`;

const DIFFERENCE = `from to reason explained amount { ${MONEY} } count detail recordIds`;

export const OPERATIONS = {
  viewer: `query Viewer { viewer { subject name roles } }`,

  workQueue: `query WorkQueue($filter: WorkQueueFilter, $after: String) {
    workQueue(filter: $filter, first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { ${WORK_ITEM} } }
    workQueueSummary { status kind count } }`,
  workItem: `query WorkItem($id: ID!) { workItem(id: $id) { ${WORK_ITEM} } }`,
  assignWorkItem: `mutation AssignWorkItem($id: ID!, $assignee: String, $unassign: Boolean) {
    assignWorkItem(id: $id, assignee: $assignee, unassign: $unassign) { id status assignee } }`,
  dismissWorkItem: `mutation DismissWorkItem($id: ID!, $reason: String!) { dismissWorkItem(id: $id, reason: $reason) { id status } }`,
  resolveUsageException: `mutation ResolveUsageException($id: ID!, $resolution: UsageExceptionResolutionInput!) {
    resolveUsageException(id: $id, resolution: $resolution) { id status heldEventCount } }`,
  approvePricingException: `mutation ApprovePricingException($id: ID!) { approvePricingException(id: $id) { id status } }`,
  setAccountMapping: `mutation SetAccountMapping($input: AccountMappingInput!) {
    setAccountMapping(input: $input) { id kind key value effectiveFrom } }`,
  postInNextOpenPeriod: `mutation PostInNextOpenPeriod($postingId: ID!) {
    postInNextOpenPeriod(postingId: $postingId) { id status journalEntry: entry { accountingPeriod requestedPeriod } } }`,
  reopenEntityPeriod: `mutation ReopenEntityPeriod($key: String!, $legalEntityCode: String) {
    reopenAccountingPeriod(key: $key, legalEntityCode: $legalEntityCode) { key legalEntityCode status changedAt } }`,
  issueNotes: `mutation IssueNotes($invoiceIds: [ID!]!) {
    issueNotes(invoiceIds: $invoiceIds) { invoiceId status code message notes { id number kind total { ${MONEY} } } } }`,
  pricePlans: `query PricePlans { pricePlans(first: 200) { nodes { id key version name currency } } }`,

  quarantine: `query Quarantine($status: ExceptionStatus, $groupId: ID, $after: String) {
    quarantinedEvents(status: $status, groupId: $groupId, first: 100, after: $after) {
      totalCount pageInfo { hasNextPage endCursor }
      nodes { id status payloadText payloadTruncated groupId receivedCount firstReceivedAt lastReceivedAt correlationId
        resolvedAs usageEventId problems { code field reason expected }
        discard { reason discardedBy discardedAt } } } }`,
  correctQuarantinedEvent: `mutation CorrectQuarantinedEvent($id: ID!, $event: JSON!) {
    correctQuarantinedEvent(id: $id, event: $event) { quarantineId status usageEventId exceptionId problems { code field reason expected } } }`,
  replayQuarantinedEvents: `mutation ReplayQuarantinedEvents($ids: [ID!]!) {
    replayQuarantinedEvents(ids: $ids) { quarantineId status problems { code field reason } } }`,
  discardQuarantinedEvents: `mutation DiscardQuarantinedEvents($ids: [ID!]!, $reason: String!) {
    discardQuarantinedEvents(ids: $ids, reason: $reason) { id status } }`,

  deadLetters: `query DeadLetters {
    held: erpPostings(status: HELD, first: 100) { totalCount nodes { id postingKey status attempts invoice { id number } lastError { code message kind remedy } journalEntry { accountingPeriod totalDebits { ${MONEY} } } } }
    dead: erpPostings(status: DEAD_LETTER, first: 100) { totalCount nodes { id postingKey status attempts invoice { id number } lastError { code message kind remedy } journalEntry { accountingPeriod totalDebits { ${MONEY} } } } }
    webhookDeadLetters(first: 100) { nodes { id eventType eventSubject eventId endpointDescription attempts lastOutcome lastAttemptAt createdAt } } }`,
  replayErpPosting: `mutation ReplayErpPosting($id: ID!) { replayErpPosting(id: $id) { id status } }`,
  replayWebhookDeliveries: `mutation ReplayWebhookDeliveries($ids: [ID!]!) { replayWebhookDeliveries(ids: $ids) { id replayed status error } }`,

  reconciliation: `query Reconciliation($period: String!, $legalEntityCode: String) {
    reconciliation(period: $period, legalEntityCode: $legalEntityCode) {
      period legalEntityCode status unexplainedCount digest readAt csv ledger { system location }
      totals { currency rated { ${MONEY} } invoiced { ${MONEY} } posted { ${MONEY} } ledger { ${MONEY} } }
      customers { customerId customerKey customerName legalEntityCode reconciled
        differences { ${DIFFERENCE} }
        lines { account productLine kind currency reconciled invoiceIds
          usage { usageTypeKey unit quantity eventCount }
          rated { ${MONEY} } invoiced { ${MONEY} } posted { ${MONEY} } ledger { ${MONEY} }
          differences { ${DIFFERENCE} } } }
      differences { ${DIFFERENCE} }
      signOff { signedOffBy signedOffAt digest current } } }`,
  signOffReconciliation: `mutation SignOffReconciliation($period: String!, $legalEntityCode: String) {
    signOffReconciliation(period: $period, legalEntityCode: $legalEntityCode) { status signOff { signedOffBy signedOffAt current } } }`,

  customers: `query Customers($after: String) {
    customers(first: 200, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id externalKey name currency aliases legalEntity { code } createdAt } } }`,
  customerByKey: `query CustomerByKey($key: String!) { customerByExternalKey(externalKey: $key) { id externalKey name currency aliases legalEntity { code } createdAt } }`,
  customer: `query Customer($id: ID!) { customer(id: $id) { id externalKey name currency aliases legalEntity { code }
    subscriptions { id status startsAt endsAt }
    invoices(first: 100) { nodes { id number status period { key } total { ${MONEY} } issueDate } } } }`,
  invoices: `query Invoices($filter: InvoiceFilter, $after: String) {
    invoices(filter: $filter, first: 100, after: $after) { pageInfo { hasNextPage endCursor }
      nodes { id number status period { key } total { ${MONEY} } issueDate legalEntityCode customer { id externalKey name } } } }`,
  invoice: `query Invoice($id: ID!) { invoice(id: $id) {
    id number status legalEntityCode currency period { key } issueDate finalizedAt createdAt correlationId
    subtotal { ${MONEY} } taxTotal { ${MONEY} } total { ${MONEY} } taxJurisdiction taxExemption { reason }
    taxLines { ${TAX_LINE} } documents { pdf html }
    customer { id externalKey name } subscription { id }
    lines { id lineNo kind description productLine usageTypeKey quantity unit unitPrice amount { ${MONEY} }
      taxes { jurisdiction amount { ${MONEY} } } }
    notes { id number kind issueDate subtotal { ${MONEY} } taxTotal { ${MONEY} } total { ${MONEY} } issuedBy
      taxLines { ${TAX_LINE} } documents { pdf html }
      lines { id lineNo description productLine quantity unit amount { ${MONEY} } invoiceLine { lineNo } } }
    openAdjustments { id lineKey difference { ${MONEY} } }
    erpPostings { ${POSTING_OF_INVOICE} } } }`,
  lineage: `query Lineage($id: ID!) { invoiceLine(id: $id) {
    id lineNo kind description quantity unit unitPrice amount { ${MONEY} } correlationId
    invoice { id number status issueDate finalizedAt createdAt correlationId customer { externalKey name }
      erpPostings { id postingKey status createdAt postedAt correlationId
        erpDocument { system documentId location postedAt }
        journalEntry { postingDate lines { lineNo account side amount { ${MONEY} } memo invoiceLines { id } } } } }
    ratedCharge { id revision kind model quantity includedQuantity billableQuantity unitPrice explanation ratedAt correlationId
      amount { ${MONEY} } breakdown { description units unitPrice amount }
      aggregate { id quantity eventCount computedAt correlationId usageType { key version unit }
        events(first: 20) { pageInfo { hasNextPage }
          nodes { id eventId source timestamp receivedAt quantity customerKey correlationId } } } } } }`,

  usageTypes: `query UsageTypes($status: UsageTypeStatus) { usageTypes(status: $status, first: 200) { nodes {
    id key version description unit productLine status sunsetAt activatedAt
    fields { name type required } dimensions aggregation { type field } } } }`,

  periods: `query Periods { accountingPeriods(first: 24) { nodes { key status changedAt } } }`,
  closePeriod: `mutation ClosePeriod($key: String!) { closeAccountingPeriod(key: $key) { key status changedAt } }`,
  reopenPeriod: `mutation ReopenPeriod($key: String!) { reopenAccountingPeriod(key: $key) { key status changedAt } }`,
} as const;

export type OperationName = keyof typeof OPERATIONS;
