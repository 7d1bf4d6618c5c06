import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { knownFailure } from './format-error';

it('names a database that is down or slow with a stable code, however deep the driver error is wrapped', () => {
  expect(knownFailure(new MongoNetworkError('connection 3 to 127.0.0.1:1 closed'))?.code).toBe('DATABASE_UNAVAILABLE');
  expect(knownFailure(new MongoServerSelectionError('connect ECONNREFUSED', {} as never))?.code).toBe(
    'DATABASE_UNAVAILABLE',
  );
  // A bulk insert cut off by the dropped connection arrives wrapped, with the network error as its cause.
  const wrapped = new Error('insertMany failed', { cause: new MongoNetworkError('connection closed') });
  expect(knownFailure(new Error('storing a batch failed', { cause: wrapped }))?.code).toBe('DATABASE_UNAVAILABLE');
  expect(knownFailure(new MongoServerError({ code: 50, errmsg: 'operation exceeded time limit' }))?.code).toBe(
    'DATABASE_TIMEOUT',
  );
});

it('leaves every other error unknown, so it is logged and masked as an internal error', () => {
  expect(knownFailure(new Error('a bug'))).toBeUndefined();
  expect(knownFailure(new MongoServerError({ code: 11000, errmsg: 'duplicate key' }))).toBeUndefined();
  expect(knownFailure('not an error')).toBeUndefined();
});
