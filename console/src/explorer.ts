// GraphiQL, bundled (nothing is loaded from the internet), on the gateway's /graphql with the caller's credential.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import { storedCredential } from './credential';

const fetcher = createGraphiQLFetcher({ url: `${location.origin}/graphql` });
const credential = storedCredential();

createRoot(document.getElementById('explorer')!).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery: '{ viewer { subject name roles } }\n',
    // The console's sign-in fills the header; otherwise paste `{"authorization": "Bearer <key>"}` here.
    defaultHeaders: JSON.stringify(
      { authorization: credential ? `Bearer ${credential}` : 'Bearer <API key or OIDC token>' },
      null,
      2,
    ),
    shouldPersistHeaders: false,
  }),
);
