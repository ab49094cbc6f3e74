//! `lakeforge init DIR`: writes a complete example project, an online shop. The seed CSVs
//! (customers, orders, payments) are generated here from a fixed random seed, so any size can
//! be made for benchmarks (`--orders 10000000`) and the same size always gives the same data.
//! Money is whole cents in the CSVs and exact decimals in the models (`cents_to_dollars`).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct InitArgs {
    /// Folder to create the project in.
    pub dir: PathBuf,
    /// Number of orders to generate.
    #[arg(long, default_value_t = 1000)]
    pub orders: u64,
    /// Number of customers (default: one per ten orders, at least 10).
    #[arg(long)]
    pub customers: Option<u64>,
    /// Random seed of the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write into a folder that is not empty (existing project files are overwritten).
    #[arg(long)]
    pub force: bool,
}

/// The project's files, embedded in the binary.
const FILES: &[(&str, &str)] = &[
    ("dbt_project.yml", include_str!("init/dbt_project.yml")),
    (".gitignore", include_str!("init/gitignore")),
    (
        "macros/cents_to_dollars.sql",
        include_str!("init/macros/cents_to_dollars.sql"),
    ),
    ("models/schema.yml", include_str!("init/models/schema.yml")),
    ("models/ml.yml", include_str!("init/models/ml.yml")),
    (
        "models/staging/stg_customers.sql",
        include_str!("init/models/staging/stg_customers.sql"),
    ),
    (
        "models/staging/stg_orders.sql",
        include_str!("init/models/staging/stg_orders.sql"),
    ),
    (
        "models/staging/stg_payments.sql",
        include_str!("init/models/staging/stg_payments.sql"),
    ),
    (
        "models/intermediate/int_order_payments.sql",
        include_str!("init/models/intermediate/int_order_payments.sql"),
    ),
    (
        "models/marts/orders.sql",
        include_str!("init/models/marts/orders.sql"),
    ),
    (
        "models/marts/customers.sql",
        include_str!("init/models/marts/customers.sql"),
    ),
    (
        "models/marts/daily_revenue.sql",
        include_str!("init/models/marts/daily_revenue.sql"),
    ),
    (
        "models/marts/customer_value_scores.sql",
        include_str!("init/models/marts/customer_value_scores.sql"),
    ),
    (
        "tests/assert_no_negative_payments.sql",
        include_str!("init/tests/assert_no_negative_payments.sql"),
    ),
];

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() && !args.force {
        bail!(
            "{} exists and is not empty\nhint: pick a new folder, or pass --force to write the example into it",
            dir.display()
        );
    }
    for (path, content) in FILES {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, content).with_context(|| format!("writing {}", p.display()))?;
    }
    let customers = args.customers.unwrap_or((args.orders / 10).max(10));
    let started = std::time::Instant::now();
    generate_seeds(&dir.join("seeds"), customers, args.orders, args.seed)?;
    println!(
        "Created project `shop` in {} ({} customers, {} orders, generated in {:.1}s)",
        dir.display(),
        customers,
        args.orders,
        started.elapsed().as_secs_f64()
    );
    println!("Next:\n  cd {}\n  lakeforge build", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// splitmix64: tiny, fast and the same on every platform, so a seed always gives the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dmitri", "Elena", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi",
    "Lena", "Marco", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: &[&str] = &[
    "Adams", "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Khan", "Lopez", "Moreau", "Nowak", "Okafor", "Petrov", "Rossi", "Silva", "Tanaka", "Weber",
];
const COUNTRIES: &[&str] = &["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "SE", "JP"];
const METHODS: &[&str] = &[
    "credit_card",
    "credit_card",
    "credit_card",
    "bank_transfer",
    "coupon",
    "gift_card",
];

/// The customer of an order, from one random draw: half the orders go to the regulars (the
/// first quarter of the customers), the rest to anyone, so a regular places about five times
/// as many orders as another customer, as in a real shop, and the demo's model has a real
/// difference between customers to learn.
fn pick_customer(draw: u64, customers: u64) -> u64 {
    let regulars = (customers / 4).max(1);
    let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
    if u < 0.5 {
        1 + ((u * 2.0 * regulars as f64) as u64).min(regulars - 1)
    } else {
        1 + (((u - 0.5) * 2.0 * customers as f64) as u64).min(customers.max(1) - 1)
    }
}

/// Days since 1970-01-01 → YYYY-MM-DD, without a date library in the hot loop.
fn ymd(days: i64) -> String {
    // Howard Hinnant's civil-from-days algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn generate_seeds(dir: &Path, customers: u64, orders: u64, seed: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = Rng(seed);
    // 2023-01-01 as days since the epoch; orders spread over two years in id order.
    let start = 19_358i64;
    let span = 730i64;

    let mut w = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(dir.join("raw_customers.csv"))?,
    );
    writeln!(w, "id,first_name,last_name,email,country,signup_date")?;
    for id in 1..=customers {
        let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
        let signup = start - 365 + rng.below(365) as i64;
        writeln!(
            w,
            "{id},{f},{l},{}.{}{id}@example.com,{},{}",
            f,
            l,
            rng.pick(COUNTRIES),
            ymd(signup)
        )?;
    }
    w.flush()?;

    let mut wo =
        BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("raw_orders.csv"))?);
    let mut wp = BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(dir.join("raw_payments.csv"))?,
    );
    writeln!(wo, "id,user_id,order_date,status")?;
    writeln!(wp, "id,order_id,payment_method,amount")?;
    let mut payment_id = 0u64;
    let mut dates: Vec<String> = (0..=span).map(|d| ymd(start + d)).collect();
    dates.shrink_to_fit();
    for id in 1..=orders {
        let customer = pick_customer(rng.next(), customers);
        let day = (id as i64 * span) / orders.max(1) as i64;
        let status = match rng.below(100) {
            0..=54 => "completed",
            55..=74 => "shipped",
            75..=89 => "placed",
            90..=94 => "return_pending",
            _ => "returned",
        };
        writeln!(wo, "{id},{customer},{},{status}", dates[day as usize])?;
        // Most orders are paid once; some split the amount with a coupon or gift card.
        let payments = if rng.below(5) == 0 { 2 } else { 1 };
        for _ in 0..payments {
            payment_id += 1;
            let amount = 500 + rng.below(30_000);
            writeln!(wp, "{payment_id},{id},{},{amount}", rng.pick(METHODS))?;
        }
    }
    wo.flush()?;
    wp.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_dates() {
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(19_358), "2023-01-01");
        assert_eq!(ymd(19_417), "2023-03-01");
    }
}
