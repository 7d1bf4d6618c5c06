// Fixes to FerretDB 1.24.2's SQLite backend, applied to the source before it is built (1.x is no longer developed
// upstream; 2.x moved to PostgreSQL). Without them every query reads the whole table in Go.
//
// 1. Look-ups by _id never used the _id index: the index is built on `_ferretdb_sjson->"_id"`, but queries, updates
//    and deletes compared `_ferretdb_sjson->'$._id'`, a different expression text, so SQLite scanned every row
//    (EXPLAIN QUERY PLAN said SCAN, not SEARCH … USING INDEX …__id_). Measured on 20,000 documents: 7.6 ms per
//    look-up scanning, 0.005 ms with the index. Both expressions select the same value.
// 2. Only a filter that is exactly {_id: <string>} was pushed down to SQL; any other filter made FerretDB decode
//    every document of the collection in Go (~65 µs each) and test it there. Now the conditions below, at the top
//    level or inside a top-level $and (pageById's cursor), become conditions on the very expression FerretDB indexes
//    the key on (`_ferretdb_sjson->"key"`), so SQLite answers them from the index:
//      - _id or a field equal to a string (or ObjectID), or $in of them (every DataLoader batch);
//      - _id or a field (with an index that starts with it) $gt/$gte/$lt/$lte a string.
//    FerretDB still applies the whole filter to the rows SQL returns, so a condition only has to keep every document
//    that could match: values are compared as the JSON text FerretDB itself stored (same encoder), and a field
//    holding an array — JSON text starting with "[" — is kept, because MongoDB matches an array by its elements.
// 3. Ranges and order. SQLite compares that JSON text bytewise; MongoDB compares strings bytewise (UTF-8). They
//    agree on "safe" strings: no character Go's JSON encoder escapes (" \ controls < > & U+2028 U+2029, stored as
//    \", \u003c…) and none below '#' (space and ! sort below the closing quote: "a!" before "a"). Generated ASCII ids
//    (uev_…, sub_…, 2026-01, pst_…#2) are safe. Where the orders disagree, the other string lies in a "hole" of the
//    safe one: the JSON text right after one of its prefixes followed by space, ! or a backslash (one index seek
//    each). A range is pushed only with a safe bound (≤ 512 bytes) and when no document has its key in the bound's
//    holes (one probe query first); `< '#'` caps a $gt at strings, whose JSON text starts with '"', as MongoDB
//    compares strings only with strings.
// 4. Sort and limit. A find with a limit, sorted by _id (or not sorted; a sort key before _id only when the filter
//    pins it to one string, e.g. {status: "x"} sorted {status: 1, _id: 1}), is answered by a page: SQL reads
//    `… WHERE <conditions> ORDER BY _id` in index order and the backend applies the whole filter in Go as it reads,
//    stopping at `limit` (+ skip) matches; FerretDB's handler then filters, sorts and limits those again. Rows SQL
//    keeps that the filter drops never shorten the page (reading goes on); SQL gets `LIMIT n` only when its WHERE is
//    the whole filter, and a page that then comes out short (an ObjectID stored as the hex of a string it was
//    compared with) is not used. The page is MongoDB's answer when no document it did not read could belong to it,
//    so one probe query after it checks, or it is thrown away and the query runs as in 2:
//      - every match on a full page has a safe string _id, and no document's _id is in the holes of the page's last
//        _id or of a range bound (see 3);
//      - when the filter does not restrict _id to strings, no document has a non-string _id (MongoDB sorts numbers
//        and null before strings; such JSON text starts from '#' on); a descending page needs that restriction
//        ($lt/$lte/$gt/$gte/$eq/$in with strings): ObjectIDs, which MongoDB puts first, are stored as hex strings
//        among the strings and could not be found without reading them all;
//      - on an indexed field the WHERE leaves out the array branch of 2, so that SQLite reads one index range in _id
//        order; no document may hold an array in that field (one seek on '[' … '\').
//    Without a sort any `limit` matches are MongoDB's answer, so a full unsorted page needs no check. The page and
//    its probe are two statements, not one snapshot: a write between them either makes the probe give the page up or
//    is returned or not, as a write during any MongoDB query is.
//    So `find({aggregateId: a, _id: {$gt: cursor}}).sort({_id: 1}).limit(51)` (pageById, also as the `$and` it
//    sends) reads 51 documents from the index {aggregateId: 1, _id: 1} — the index shape a page of {field: value}
//    sorted by _id needs; with only {field: 1} SQLite sorts the whole group, with only _id it walks past other groups.
// 5. Explain (FerretDB reports SQLite's plan) explains the statement a find runs and, like MongoDB's executionStats,
//    runs it: queryPlanner.pushdown = {sql, page, rowsRead}, rowsRead being the documents the backend decoded.
// 6. Index choice. SQLite has no statistics on these tables, so it takes an equality on any indexed key over an $in
//    (which the array branch of 2 makes an OR): {subscriptionId: {$in: 200 ids}, periodKey: p} read every document
//    of the period through {periodKey: 1, _id: 1}, so a billing run's pages grew with what it had written
//    (measured on 120,000 rated charges: 4,811 ms a page, 395 ms with the $in alone). A scan now names the index
//    whose leading keys the conditions pin most (INDEXED BY; see pdBestIndex), and leaves ties to SQLite.
// 7. CPU per document. A CPU profile of inserting and reading 20,000 rated charges put 30 % of FerretDB's time in
//    decoding its stored JSON (every string value through a json.Decoder of its own), 5 % in leak tracking
//    (resource.Track: a stack walk into a pprof profile and a finalizer for every document iterator, meant for debug
//    builds) and 15 % in Go's collector. Plain ASCII strings without escapes are now taken from between their quotes
//    (anything else decodes as before), leak tracking runs in debug builds only, and the database runs with GOGC=400
//    (runtime/ferretdb.ts; a GOGC in the environment wins): a document read 0.369 -> 0.275 ms.
// 9. An update command with 100 or more statements hung the database. Each statement's query iterator was closed by
//    a `defer` inside the statement loop, so it held its SQLite connection until the whole command returned; the
//    pool has 100, and the 100th statement's write waited for a connection forever — every other query of that
//    database then ran into its time limit (found with bench:post: a bulkWrite of 200 replaceOne, the results of
//    a batch of revenue recognitions; 99 statements passed, 100 hung, whichever documents). Each statement's
//    iterator is now closed once its update is done (msg_delete.go already does so).
// The Go code is in pushdown.go beside this file; test/database.test.ts checks plans and answers.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SourcePatch {
  file: string;
  find: string;
  replace: string;
}

const MARKER = '// ---- usagegraph pushdown: appended to collection.go ----\n';
const pushdownSource = readFileSync(join(__dirname, 'pushdown.go'), 'utf8');
if (!pushdownSource.includes(MARKER)) throw new Error(`runtime/ferretdb-patches/pushdown.go lacks the line ${MARKER}`);
const PUSHDOWN_CODE = pushdownSource.slice(pushdownSource.indexOf(MARKER));

const QUERY_ORIGINAL = `	q := prepareSelectClause(meta.TableName, params.Comment, meta.Capped(), params.OnlyRecordIDs)

	var whereClause string
	var args []any

	// that logic should exist in one place
	// TODO https://github.com/FerretDB/FerretDB/issues/3235
	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			whereClause = fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}

	q += whereClause
	q += prepareOrderByClause(params.Sort)

	if params.Limit != 0 {
		q += \` LIMIT ?\`
		args = append(args, params.Limit)
	}

	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	return &backends.QueryResult{
		Iter: newQueryIterator(ctx, rows, params.OnlyRecordIDs),
	}, nil
}`;

const QUERY_PATCHED = `	// usagegraph patch: conditions, ranges, sort and limit pushed down (see pdQuery).
	read, err := pdQuery(ctx, db, meta, params)
	if err != nil {
		return nil, err
	}

	return &backends.QueryResult{
		Iter: read.iter,
	}, nil
}`;

const EXPLAIN_ORIGINAL = `	selectClause := prepareSelectClause(meta.TableName, "", meta.Capped(), false)

	var filterPushdown bool
	var whereClause string
	var args []any

	// that logic should exist in one place
	// TODO https://github.com/FerretDB/FerretDB/issues/3235
	if params.Filter.Len() == 1 {
		v, _ := params.Filter.Get("_id")
		switch v.(type) {
		case string, types.ObjectID:
			filterPushdown = true
			whereClause = fmt.Sprintf(\` WHERE %s = ?\`, metadata.IDColumn)
			args = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
		}
	}

	orderByClause := prepareOrderByClause(params.Sort)
	sortPushdown := orderByClause != ""

	q := \`EXPLAIN QUERY PLAN \` + selectClause + whereClause + orderByClause

	var limitPushdown bool

	if params.Limit != 0 {
		q += \` LIMIT ?\`
		args = append(args, params.Limit)
		limitPushdown = true
	}
`;

const EXPLAIN_PATCHED = `	// usagegraph patch: explain the statement the query runs, and run it (as MongoDB's executionStats does) to report
	// the documents it read.
	read, err := pdQuery(ctx, db, meta, &backends.QueryParams{
		Filter: params.Filter, Sort: params.Sort, Limit: params.Limit,
		FindFilter: params.FindFilter, FindSort: params.FindSort, FindLimit: params.FindLimit,
	})
	if err != nil {
		return nil, err
	}

	returned, err := iterator.ConsumeCount(read.iter)
	read.iter.Close()

	if err != nil {
		return nil, lazyerrors.Error(err)
	}

	rowsRead := read.pageRows
	if !read.page {
		rowsRead = returned
	}

	filterPushdown, sortPushdown, limitPushdown := read.where, read.sorted, read.limited
	q := \`EXPLAIN QUERY PLAN \` + read.sql
	args := read.args
`;

// The find's whole filter, sort and limit reach the backend, which applies them only where it proves the same answer.
const FIND_PARAMS = `
	// usagegraph patch: the whole filter, sort and limit (+ skip), for the SQLite backend's page (see pdPage).
	FindFilter *types.Document
	FindSort   *types.Document
	FindLimit  int64
`;

const LIMIT_PUSHDOWN = `	if !h.DisablePushdown && params.Filter.Len() == 0 && params.Sort.Len() == 0 && params.Skip == 0 {
		qp.Limit = params.Limit
	}
`;

const handlerFindParams = (condition: string) => `${LIMIT_PUSHDOWN}
	// usagegraph patch: offer the sort and limit to the backend; FerretDB still filters, sorts, skips and limits here.
	if ${condition} {
		qp.FindFilter, qp.FindSort, qp.FindLimit = params.Filter, params.Sort, params.Limit+params.Skip
	}
`;

export const FERRETDB_PATCHES: SourcePatch[] = [
  {
    file: 'internal/backends/sqlite/metadata/metadata.go',
    find: `IDColumn = DefaultColumn + "->'$._id'"`,
    replace: `IDColumn = DefaultColumn + "->\\"_id\\""`,
  },
  { file: 'internal/backends/sqlite/collection.go', find: QUERY_ORIGINAL, replace: QUERY_PATCHED },
  { file: 'internal/backends/sqlite/collection.go', find: EXPLAIN_ORIGINAL, replace: EXPLAIN_PATCHED },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: `		QueryPlanner:   must.NotFail(types.NewDocument("Plan", queryPlan)),`,
    replace: `		QueryPlanner: must.NotFail(types.NewDocument("Plan", queryPlan, "pushdown", must.NotFail(types.NewDocument(
			"sql", read.sql, "page", read.page, "rowsRead", int64(rowsRead),
		)))),`,
  },
  { file: 'internal/backends/sqlite/collection.go', find: '// check interfaces\n', replace: PUSHDOWN_CODE },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: `	"context"\n	"errors"\n	"fmt"\n	"sort"\n	"strings"\n`,
    replace: `	"context"\n	"encoding/json"\n	"errors"\n	"fmt"\n	"regexp"\n	"slices"\n	"sort"\n	"strings"\n	"unicode/utf8"\n`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: `	"github.com/FerretDB/FerretDB/internal/handler/sjson"\n`,
    replace: `	"github.com/FerretDB/FerretDB/internal/handler/common"\n	"github.com/FerretDB/FerretDB/internal/handler/sjson"\n`,
  },
  {
    file: 'internal/backends/sqlite/collection.go',
    find: `	"github.com/FerretDB/FerretDB/internal/util/fsql"\n`,
    replace: `	"github.com/FerretDB/FerretDB/internal/util/fsql"\n	"github.com/FerretDB/FerretDB/internal/util/iterator"\n`,
  },
  {
    file: 'internal/backends/collection.go',
    find: `type QueryParams struct {\n	Filter *types.Document\n	Sort   *types.Document\n	Limit  int64\n`,
    replace: `type QueryParams struct {\n	Filter *types.Document\n	Sort   *types.Document\n	Limit  int64\n${FIND_PARAMS}`,
  },
  {
    file: 'internal/backends/collection.go',
    find: `type ExplainParams struct {\n	Filter *types.Document\n	Sort   *types.Document\n	Limit  int64\n`,
    replace: `type ExplainParams struct {\n	Filter *types.Document\n	Sort   *types.Document\n	Limit  int64\n${FIND_PARAMS}`,
  },
  // 7: leak tracking only in debug builds.
  ...['Track', 'Untrack'].map((fn) => ({
    file: 'internal/util/resource/resource.go',
    find: `func ${fn}(obj any, token *Token) {\n\tcheckArgs(obj, token)\n`,
    replace: `func ${fn}(obj any, token *Token) {\n\tcheckArgs(obj, token)\n\n\t// usagegraph patch: leak tracking costs a stack walk and a finalizer per document; debug builds only.\n\tif !debugbuild.Enabled {\n\t\treturn\n\t}\n`,
  })),
  // 7: a plain string value decodes without a JSON decoder of its own.
  {
    file: 'internal/handler/sjson/string.go',
    find: `		panic("null data")\n	}\n`,
    replace: `		panic("null data")\n	}\n\n	// usagegraph patch: printable ASCII without escapes is the bytes between the quotes; anything else below.\n	if n := len(data); n >= 2 && data[0] == '"' && data[n-1] == '"' {\n		plain := true\n\n		for _, c := range data[1 : n-1] {\n			if c < 0x20 || c >= 0x80 || c == '\\\\' || c == '"' {\n				plain = false\n				break\n			}\n		}\n\n		if plain {\n			*str = stringType(data[1 : n-1])\n			return nil\n		}\n	}\n`,
  },
  {
    file: 'internal/handler/msg_find.go',
    find: LIMIT_PUSHDOWN,
    replace: handlerFindParams('!h.DisablePushdown && params.Limit > 0'),
  },
  {
    file: 'internal/handler/msg_explain.go',
    find: LIMIT_PUSHDOWN,
    replace: handlerFindParams('!h.DisablePushdown && !params.Aggregate && params.Limit > 0'),
  },
  // 9: an update statement's iterator is closed when the statement is done, not when the command is.
  {
    file: 'internal/handler/msg_update.go',
    find: `		closer := iterator.NewMultiCloser()
		defer closer.Close()

		closer.Add(res.Iter)

		iter := common.FilterIterator(res.Iter, closer, u.Filter)

		if !u.Multi {
			iter = common.LimitIterator(iter, closer, 1)
		}

		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)
		if err != nil {
`,
    replace: `		closer := iterator.NewMultiCloser()

		closer.Add(res.Iter)

		iter := common.FilterIterator(res.Iter, closer, u.Filter)

		if !u.Multi {
			iter = common.LimitIterator(iter, closer, 1)
		}

		result, err := common.UpdateDocument(ctx, c, "update", iter, &u)

		// usagegraph patch: closed now, not deferred to the end of the command: each open iterator holds one of the
		// pool's 100 connections, and the 100th statement's write waited for one forever.
		closer.Close()

		if err != nil {
`,
  },
];

/**
 * 8. memcmp. SQLite here is C translated to Go (modernc.org/sqlite), and its libc's memcmp compares one byte per loop
 *    turn. SQLite's JSON cache finds a document's parse by comparing its whole text, once per json_extract — one per
 *    index key on every insert — so 40 % of inserting a 1.4 KB document went to that loop. The build replaces the
 *    libc module by a copy whose memcmp is Go's bytes.Compare (SQLite uses only the result's sign).
 */
export const LIBC_PATCH = {
  module: 'modernc.org/libc',
  /** Every file of the module holding this line gets `fastPath` right after it (the Linux ones). */
  signature: 'func Xmemcmp(tls *TLS, vl uintptr, vr uintptr, n Tsize_t) (r1 int32) {\n',
  fastPath: `\t// usagegraph patch: bytes.Compare, not a byte loop (see usagegraph_memcmp.go).\n\tif n != 0 && !__ccgo_strace {\n\t\treturn usagegraphMemcmp(vl, vr, n)\n\t}\n`,
  helperFile: 'usagegraph_memcmp.go',
  helper: `//go:build linux

package libc

import (
\t"bytes"
\t"unsafe"
)

// usagegraphMemcmp is memcmp over n bytes at l and r; SQLite reads only the sign of the result.
func usagegraphMemcmp(l, r uintptr, n Tsize_t) int32 {
\treturn int32(bytes.Compare(unsafe.Slice((*byte)(unsafe.Pointer(l)), n), unsafe.Slice((*byte)(unsafe.Pointer(r)), n)))
}
`,
};
