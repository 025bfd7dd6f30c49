//! dealerscope: car-showroom conversations in, customer profiles out.
//!
//! The analysis is a [`pipeline::Pipeline`] of stages read from a pipeline file
//! (`pipelines/dealership.toml`): reading the transcript, speaker roles, metrics, entities,
//! budget, signals, facts, roles, tags, priority and forecast.

pub mod analysis;
pub mod asr;
pub mod classify;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod demo;
pub mod extract;
pub mod jobs;
pub mod metrics;
pub mod pipeline;
pub mod privacy;
pub mod profile;
pub mod render;
pub mod seed;
pub mod service;
pub mod speakers;
pub mod store;
pub mod transcript;
pub mod web;
