//! SQL that PostgreSQL, DuckDB and Snowflake accept and DataFusion 55 does not, which dbt
//! packages emit: `mod(a, b)` (dbt_utils' `width_bucket`), and `coalesce(a_date, '2099-01-01')`
//! (dbt_utils' `mutually_exclusive_ranges`: a text literal next to a date or timestamp is read as
//! one, as PostgreSQL reads an untyped literal). Registered on every session (`session.rs`);
//! each becomes DataFusion's own operator or function while the plan is simplified, so it runs
//! with DataFusion's kernels and types.

use arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result as DfResult, exec_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility, binary_expr,
};

/// Every function of this module, for `SessionContext::register_udf`.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(Mod::new()),
        ScalarUDF::new_from_impl(Coalesce {
            inner: datafusion::functions::core::coalesce().as_ref().clone(),
        }),
    ]
}

/// `mod(a, b)`: the remainder of `a / b` with the sign of `a`, as PostgreSQL's; the same as
/// `a % b`, which it becomes.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Mod {
    signature: Signature,
}

impl Mod {
    fn new() -> Self {
        Mod {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Mod {
    fn name(&self) -> &str {
        "mod"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        BinaryTypeCoercer::new(&arg_types[0], &Operator::Modulo, &arg_types[1]).get_result_type()
    }

    /// The operand types `a % b` would get: the rewrite happens after type coercion, so the
    /// call's arguments must already have them.
    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let [a, b] = arg_types else {
            return plan_err!("mod() takes two arguments, got {}", arg_types.len());
        };
        let (a, b) = BinaryTypeCoercer::new(a, &Operator::Modulo, b).get_input_types()?;
        Ok(vec![a, b])
    }

    fn simplify(
        &self,
        mut args: Vec<Expr>,
        _info: &SimplifyContext,
    ) -> DfResult<ExprSimplifyResult> {
        let b = args.pop();
        let a = args.pop();
        match (a, b) {
            (Some(a), Some(b)) => Ok(ExprSimplifyResult::Simplified(binary_expr(
                a,
                Operator::Modulo,
                b,
            ))),
            (a, b) => Ok(ExprSimplifyResult::Original(
                a.into_iter().chain(b).collect(),
            )),
        }
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        // Simplification always runs before execution and turns every call into `a % b`.
        exec_err!("mod(): internal error, the call was not rewritten to the % operator")
    }
}

/// DataFusion's `coalesce`, with one more coercion: text (or NULL) arguments beside a date or
/// timestamp argument are cast to its type, where DataFusion's union coercion gives up.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Coalesce {
    inner: ScalarUDF,
}

impl ScalarUDFImpl for Coalesce {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }

    fn conditional_arguments<'a>(
        &self,
        args: &'a [Expr],
    ) -> Option<(Vec<&'a Expr>, Vec<&'a Expr>)> {
        self.inner.inner().conditional_arguments(args)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match self.inner.coerce_types(arg_types) {
            Ok(types) => Ok(types),
            Err(e) => temporal_with_text(arg_types).ok_or(e),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// All arguments as the one date/timestamp type among them, when the rest are text or NULL.
fn temporal_with_text(types: &[DataType]) -> Option<Vec<DataType>> {
    let temporal = types.iter().find(|t| t.is_temporal())?;
    types
        .iter()
        .all(|t| {
            t == temporal
                || matches!(
                    t,
                    DataType::Null | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
        })
        .then(|| vec![temporal.clone(); types.len()])
}

/// Registers the functions on a session.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    for f in all() {
        ctx.register_udf(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn mod_is_the_remainder_for_integers_and_decimals() {
        let ctx = SessionContext::new();
        register(&ctx);
        let df = ctx
            .sql("select mod(7, 3) as a, mod(-7, 3) as b, mod(cast(5.5 as decimal(28,6)), cast(2 as decimal(28,6))) as c, mod(7.5, 2) as d")
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| 1 | -1 | 1.500000 | 1.5 |"), "{text}");
    }

    #[tokio::test]
    async fn coalesce_reads_text_beside_a_date_as_a_date() {
        let ctx = SessionContext::new();
        register(&ctx);
        let df = ctx
            .sql("select coalesce(cast(null as date), '2099-01-01') as d, coalesce(1, 2) as n")
            .await
            .unwrap();
        let batches = df.collect().await.unwrap();
        assert_eq!(
            batches[0].schema().field(0).data_type(),
            &DataType::Date32,
            "{batches:?}"
        );
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| 2099-01-01 | 1 |"), "{text}");
        let err = ctx.sql("select coalesce(1, 'x', date '2020-01-01')").await;
        assert!(err.is_err(), "mixed numbers and dates still fail to coerce");
    }
}
