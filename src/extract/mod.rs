//! Turning words into signals: numbers, money, budgets, gazetteer entities, lexicon rules,
//! facts and roles.

pub mod budget;
pub mod entities;
pub mod facts;
pub mod gazetteer;
pub mod lexicon;
pub mod money;
pub mod numbers_en;
pub mod numbers_zh;
pub mod roles;
pub mod signals;
