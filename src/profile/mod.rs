//! From signals to a profile: metrics, tags, follow-up priority and the forecast.

pub mod condition;
pub mod corrections;
pub mod customer;
pub mod forecast;
pub mod forecast_report;
pub mod metrics;
pub mod priority;
pub mod tags;
