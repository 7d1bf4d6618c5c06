// The access subgraph's collections: API keys (revocations are separate inserts), the audit trail (append-only) and
// operation usage (one record per gateway instance, operation and day, written only by that instance).
import type { Collection, Db } from 'mongodb';
import type { IndexDeclaration } from '../../lib/mongo';
import type { Role } from '../../lib/principal';
import type { Category } from '../../contracts/audiences';

/** The categories an internal-tool key can be limited to (the API's Scope enum); the others are never a key's scope. */
export type KeyScope = Exclude<Category, 'audit' | 'platform' | 'internal'>;

export interface ApiKeyDoc {
  _id: string; // key_<8 hex>
  prefix: string; // ugk_<8 hex>
  /** scrypt of the secret part, with its own salt and parameters, so they can change for new keys. */
  hash: { algorithm: 'scrypt'; salt: string; digest: string; N: number; r: number; p: number };
  owner: string;
  description: string;
  roles: Role[];
  scopes: KeyScope[];
  expiresAt: Date | null;
  createdAt: Date;
  createdBy: string;
  correlationId: string;
}

/** A key is revoked once and for all by inserting this; the insert is what makes two revocations one. */
export interface ApiKeyRevocationDoc {
  _id: string; // the key's id
  revokedAt: Date;
  revokedBy: string;
  reason: string;
}

export interface AuditEventDoc {
  _id: string; // aud_<time-sortable>
  at: Date;
  subject: string;
  subjectName: string;
  roles: string[];
  operationName: string | null;
  fields: string[];
  variables: string; // JSON text: variables may hold keys no database accepts as field names
  client: string | null;
  correlationId: string;
}

export interface AuditOutcomeDoc {
  _id: string; // the audit event's id
  outcome: 'SUCCEEDED' | 'FAILED';
  errorCodes: string[];
  completedAt: Date;
}

export interface OperationUsageDoc {
  _id: string; // deterministic over day, signature, client, contract and instance
  day: string;
  signature: string;
  operationName: string | null;
  document: string;
  coordinates: string[];
  client: string;
  contract: string;
  instance: string;
  count: number;
  updatedAt: Date;
}

export interface AccessStore {
  keys: Collection<ApiKeyDoc>;
  revocations: Collection<ApiKeyRevocationDoc>;
  audit: Collection<AuditEventDoc>;
  outcomes: Collection<AuditOutcomeDoc>;
  operations: Collection<OperationUsageDoc>;
}

export const indexes: IndexDeclaration[] = [
  { collection: 'operation_usage', keys: { day: 1 } },
  // The audit trail of one subject, newest first (ids are time-ordered): a page read from the index.
  { collection: 'audit_events', keys: { subject: 1, _id: 1 } },
];

export function accessStore(db: Db): AccessStore {
  return {
    keys: db.collection('api_keys'),
    revocations: db.collection('api_key_revocations'),
    audit: db.collection('audit_events'),
    outcomes: db.collection('audit_outcomes'),
    operations: db.collection('operation_usage'),
  };
}
