// Fixes to FerretDB 1.24.2's SQLite backend, applied to the source before it is built (1.x is no longer developed
// upstream; 2.x moved to PostgreSQL). Without them every query reads the whole table in Go.
//
// 1. Look-ups by _id never used the _id index: the index is built on `_ferretdb_sjson->"_id"`, but queries, updates
//    and deletes compared `_ferretdb_sjson->'$._id'`, a different expression text, so SQLite scanned every row
//    (EXPLAIN QUERY PLAN said SCAN, not SEARCH … USING INDEX …__id_). Measured on 20,000 documents: 7.6 ms per
//    look-up scanning, 0.005 ms with the index. Both expressions select the same value.
// 2. Only a filter that is exactly {_id: <string>} was pushed down to SQL; any other filter made FerretDB decode
//    every document of the collection in Go (~65 µs each) and test it there. Now:
//      - {_id: {$in: [...]}} (every DataLoader batch) becomes `_id IN (...)`, on the _id index;
//      - a top-level field compared with a string, or $in of strings, becomes a condition on the same expression
//        FerretDB builds that field's index on, so SQLite can use the index: for {aggregateId: "a"},
//        `(doc->"aggregateId" = '"a"' OR (doc->"aggregateId" >= '[' AND doc->"aggregateId" < '\'))`.
//    FerretDB still applies the whole filter to the rows SQL returns, so a pushed-down condition only has to keep
//    every document that could match: the value is compared as the JSON text FerretDB itself stored (same encoder),
//    and a field holding an array — JSON text starting with "[" — is always kept, because MongoDB matches an array
//    that contains the value. Keys that are not plain identifiers, operators other than $in, and non-string values
//    are left to FerretDB as before. test/database.test.ts checks the answers, arrays and odd characters included.

export interface SourcePatch {
  file: string;
  find: string;
  replace: string;
}

const QUERY_PUSHDOWN = `	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			whereClause = fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}`;

const EXPLAIN_PUSHDOWN = `	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			filterPushdown = true
			whereClause = fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}`;

const PUSHDOWN_HELPERS = `// pushdownWhere turns the parts of a filter SQLite can check into a WHERE clause that keeps every document the
// whole filter could match (usagegraph patch; FerretDB applies the whole filter to what is read afterwards).
func pushdownWhere(filter *types.Document) (string, []any) {
	if filter == nil {
		return "", nil
	}

	var conds []string
	var args []any

	for _, k := range filter.Keys() {
		v := must.NotFail(filter.Get(k))

		if k == "_id" {
			switch v.(type) {
			case string, types.ObjectID:
				conds = append(conds, fmt.Sprintf(\`%s = ?\`, metadata.IDColumn))
				args = append(args, string(must.NotFail(sjson.MarshalSingleValue(v))))
			default:
				if ids := inValues(v, true); ids != nil {
					conds = append(conds, fmt.Sprintf(\`%s IN (%s)\`, metadata.IDColumn, placeholders(len(ids))))
					args = append(args, ids...)
				}
			}

			continue
		}

		if !plainKey.MatchString(k) {
			continue
		}

		// The very expression the index on this field is built on (see metadata.Registry.IndexesCreate).
		field := fmt.Sprintf("%s->%s", metadata.DefaultColumn, fmt.Sprintf("%q", k))
		isArray := fmt.Sprintf(\`(%s >= '[' AND %s < '\\')\`, field, field)

		if s, ok := v.(string); ok {
			conds = append(conds, fmt.Sprintf(\`(%s = ? OR %s)\`, field, isArray))
			args = append(args, string(must.NotFail(sjson.MarshalSingleValue(s))))

			continue
		}

		if values := inValues(v, true); values != nil {
			conds = append(conds, fmt.Sprintf(\`(%s IN (%s) OR %s)\`, field, placeholders(len(values)), isArray))
			args = append(args, values...)
		}
	}

	if len(conds) == 0 {
		return "", nil
	}

	return " WHERE " + strings.Join(conds, " AND "), args
}

// plainKey matches top-level field names that are safe to put in a JSON path as they are.
var plainKey = regexp.MustCompile(\`^[A-Za-z_][A-Za-z0-9_]{0,63}$\`)

// inValues returns the SQL arguments of {$in: [...]} when every element is a string (or, for _id, an ObjectID).
func inValues(v any, id bool) []any {
	d, ok := v.(*types.Document)
	if !ok || d.Len() != 1 {
		return nil
	}

	in, err := d.Get("$in")
	if err != nil {
		return nil
	}

	arr, ok := in.(*types.Array)
	if !ok || arr.Len() == 0 || arr.Len() > 30000 {
		return nil
	}

	values := make([]any, 0, arr.Len())

	for i := 0; i < arr.Len(); i++ {
		e := must.NotFail(arr.Get(i))

		switch e := e.(type) {
		case string:
			if id {
				values = append(values, string(must.NotFail(sjson.MarshalSingleValue(e))))
			} else {
				values = append(values, e)
			}
		case types.ObjectID:
			if !id {
				return nil
			}

			values = append(values, string(must.NotFail(sjson.MarshalSingleValue(e))))
		default:
			return nil
		}
	}

	return values
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// check interfaces`;

export const FERRETDB_PATCHES: SourcePatch[] = [
  {
    file: 'internal/backends/sqlite/metadata/metadata.go',
    find: `IDColumn = DefaultColumn + "->'$._id'"`,
    replace: `IDColumn = DefaultColumn + "->\\"_id\\""`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: QUERY_PUSHDOWN,
    replace: `	whereClause, args = pushdownWhere(params.Filter)`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: EXPLAIN_PUSHDOWN,
    replace: `	whereClause, args = pushdownWhere(params.Filter)
	filterPushdown = whereClause != ""`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: '// check interfaces',
    replace: PUSHDOWN_HELPERS,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: `	"fmt"\n	"sort"\n	"strings"\n`,
    replace: `	"fmt"\n	"regexp"\n	"sort"\n	"strings"\n`,
  },
];
