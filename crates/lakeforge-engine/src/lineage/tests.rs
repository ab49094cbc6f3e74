//! The lineage of queries over small in-memory tables, one plan shape per test.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::*;

fn table(ctx: &SessionContext, name: &str, cols: &[(&str, DataType)]) {
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let t = MemTable::try_new(schema, vec![vec![]]).unwrap();
    ctx.register_table(name, Arc::new(t)).unwrap();
}

async fn session() -> SessionContext {
    let ctx = SessionContext::new();
    table(
        &ctx,
        "orders",
        &[
            ("id", DataType::Int64),
            ("customer_id", DataType::Int64),
            ("amount", DataType::Float64),
            ("status", DataType::Utf8),
        ],
    );
    table(
        &ctx,
        "customers",
        &[
            ("id", DataType::Int64),
            ("name", DataType::Utf8),
            ("country", DataType::Utf8),
        ],
    );
    ctx.sql("create view big_orders as select id, customer_id, amount * 100 as cents from orders where amount > 100")
        .await
        .unwrap();
    ctx
}

async fn lineage_with(sql: &str, expand: bool) -> QueryLineage {
    let ctx = session().await;
    let plan = ctx.sql(sql).await.unwrap().into_unoptimized_plan();
    plan_lineage(&plan, "public", &|_| expand)
}

async fn lineage(sql: &str) -> QueryLineage {
    lineage_with(sql, true).await
}

/// `column: table.col direct, table.col indirect, ...` for every output column.
fn show(l: &QueryLineage) -> Vec<String> {
    l.columns
        .iter()
        .map(|c| {
            let deps: Vec<String> = c
                .sources
                .iter()
                .map(|d| {
                    format!(
                        "{}.{}{}",
                        d.relation.identifier,
                        d.column,
                        if d.kind == DependencyKind::Indirect {
                            "?"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            format!("{}: {}", c.name, deps.join(" "))
        })
        .collect()
}

#[tokio::test]
async fn projection_expressions_and_aliases() {
    let l = lineage(
        "select id as order_id, amount * 2 as doubled, upper(status) s, 1 as one, \
         coalesce(amount, id) x from orders",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "order_id: orders.id",
            "doubled: orders.amount",
            "s: orders.status",
            "one: ",
            "x: orders.amount orders.id",
        ]
    );
    assert_eq!(
        l.relations
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>(),
        ["public.orders"]
    );
    assert_eq!(l.column("ORDER_ID").unwrap().name, "order_id");
}

#[tokio::test]
async fn filters_and_case_conditions_are_indirect() {
    let l = lineage(
        "select id, case when status = 'paid' then amount else 0 end as paid \
         from orders where customer_id > 3",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "id: orders.customer_id? orders.id",
            "paid: orders.amount orders.customer_id? orders.status?",
        ]
    );
}

#[tokio::test]
async fn aggregates_depend_on_their_group_keys() {
    let l = lineage(
        "select customer_id, sum(amount) total, count(*) n, \
         count(distinct status) filter (where amount > 0) k \
         from orders group by customer_id having sum(amount) > 10",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "customer_id: orders.amount? orders.customer_id",
            "total: orders.amount orders.customer_id?",
            "n: orders.amount? orders.customer_id?",
            "k: orders.amount? orders.customer_id? orders.status",
        ]
    );
}

#[tokio::test]
async fn joins_take_columns_from_either_side_and_keys_are_indirect() {
    let l = lineage(
        "select c.name, o.amount, o.id from orders o \
         left join customers c on o.customer_id = c.id and c.country = 'NL'",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "name: customers.country? customers.id? customers.name orders.customer_id?",
            "amount: customers.country? customers.id? orders.amount orders.customer_id?",
            "id: customers.country? customers.id? orders.customer_id? orders.id",
        ]
    );
    let semi = lineage(
        "select name from customers c where exists \
         (select 1 from orders o where o.customer_id = c.id)",
    )
    .await;
    assert_eq!(
        show(&semi),
        ["name: customers.id? customers.name orders.customer_id?"]
    );
}

#[tokio::test]
async fn unions_are_positional() {
    let l = lineage(
        "select id, name as label from customers \
         union all select id, status from orders",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "id: customers.id orders.id",
            "label: customers.name orders.status",
        ]
    );
}

#[tokio::test]
async fn ctes_and_derived_tables_pass_through() {
    let l = lineage(
        "with paid as (select id, customer_id, amount as value from orders where status = 'paid'), \
         per_customer as (select customer_id, sum(value) as total from paid group by customer_id) \
         select t.customer_id, t.total * 2 as twice from (select * from per_customer) t",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "customer_id: orders.customer_id orders.status?",
            "twice: orders.amount orders.customer_id? orders.status?",
        ]
    );
}

#[tokio::test]
async fn subqueries_in_expressions() {
    let l = lineage(
        "select c.id, \
         (select max(o.amount) from orders o where o.customer_id = c.id) as top \
         from customers c where c.id in (select customer_id from orders where status = 'x')",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "id: customers.id orders.customer_id? orders.status?",
            "top: customers.id? orders.amount orders.customer_id? orders.status?",
        ]
    );
}

#[tokio::test]
async fn window_partitions_and_orders_are_indirect() {
    let l = lineage(
        "select id, row_number() over (partition by customer_id order by amount) rn, \
         sum(amount) over (partition by customer_id) running from orders order by id",
    )
    .await;
    assert_eq!(
        show(&l),
        [
            "id: orders.id",
            "rn: orders.amount? orders.customer_id? orders.id?",
            "running: orders.amount orders.customer_id? orders.id?",
        ]
    );
}

#[tokio::test]
async fn views_are_followed_or_kept_as_leaves() {
    let sql = "select id, cents from public.big_orders";
    assert_eq!(
        show(&lineage_with(sql, true).await),
        ["id: orders.amount? orders.id", "cents: orders.amount"]
    );
    let kept = lineage_with(sql, false).await;
    assert_eq!(
        show(&kept),
        ["id: big_orders.id", "cents: big_orders.cents"]
    );
    assert_eq!(
        kept.relations
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>(),
        ["public.big_orders"]
    );
    // A CTE's alias is never qualified: it is followed even where tables are kept.
    let cte = lineage_with(
        "with big_orders as (select name from customers) select name from big_orders",
        false,
    )
    .await;
    assert_eq!(show(&cte), ["name: customers.name"]);
}

#[tokio::test]
async fn values_and_recursive_ctes() {
    let l = lineage("select a, b from (values (1, 'x'), (2, 'y')) as t(a, b)").await;
    assert_eq!(show(&l), ["a: ", "b: "]);
    let r = lineage(
        "with recursive r(n) as (select id from orders union all select n + 1 from r where n < 3) \
         select n from r",
    )
    .await;
    assert_eq!(show(&r), ["n: orders.id"]);
}
