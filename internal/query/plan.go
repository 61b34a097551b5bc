package query

import "encoding/json"

// PlanJSON returns the PartitionedQueryExecutionInfo JSON the Node.js SDK
// asks for with x-ms-cosmos-is-query-plan-request, with one query range
// covering every partition key.
//
// Meridian evaluates every query completely on the server (ORDER BY,
// aggregates, DISTINCT, GROUP BY, TOP and OFFSET/LIMIT included), so the
// plan is a pass-through plan: it asks the client for no ORDER BY merge, no
// aggregation, no de-duplication and no client-side TOP/OFFSET/LIMIT, and no
// query rewrite. A client that takes the plan path then forwards the
// server's pages unchanged, which is correct because there is one range. A
// plan describing ORDER BY or aggregates would make the SDK expect the
// rewritten per-range result shapes (orderByItems, {"item": ...}), which
// the server does not produce. hasSelectValue is reported truthfully.
func (q *Query) PlanJSON() ([]byte, error) {
	type queryRange struct {
		Min            string `json:"min"`
		Max            string `json:"max"`
		IsMinInclusive bool   `json:"isMinInclusive"`
		IsMaxInclusive bool   `json:"isMaxInclusive"`
	}
	type queryInfo struct {
		DistinctType                string            `json:"distinctType"`
		Top                         *int              `json:"top"`
		Offset                      *int              `json:"offset"`
		Limit                       *int              `json:"limit"`
		OrderBy                     []string          `json:"orderBy"`
		OrderByExpressions          []string          `json:"orderByExpressions"`
		GroupByExpressions          []string          `json:"groupByExpressions"`
		GroupByAliases              []string          `json:"groupByAliases"`
		Aggregates                  []string          `json:"aggregates"`
		GroupByAliasToAggregateType map[string]string `json:"groupByAliasToAggregateType"`
		RewrittenQuery              string            `json:"rewrittenQuery"`
		HasSelectValue              bool              `json:"hasSelectValue"`
		DCountInfo                  any               `json:"dCountInfo"`
		HasNonStreamingOrderBy      bool              `json:"hasNonStreamingOrderBy"`
	}
	plan := struct {
		Version     int          `json:"partitionedQueryExecutionInfoVersion"`
		QueryInfo   queryInfo    `json:"queryInfo"`
		QueryRanges []queryRange `json:"queryRanges"`
	}{
		Version: 2,
		QueryInfo: queryInfo{
			DistinctType:                "None",
			OrderBy:                     []string{},
			OrderByExpressions:          []string{},
			GroupByExpressions:          []string{},
			GroupByAliases:              []string{},
			Aggregates:                  []string{},
			GroupByAliasToAggregateType: map[string]string{},
			HasSelectValue:              q.selectValue,
		},
		QueryRanges: []queryRange{{Min: "", Max: "FF", IsMinInclusive: true, IsMaxInclusive: false}},
	}
	return json.Marshal(plan)
}
