#include "core/check_expr.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>

#include "core/hex.hpp"
#include "core/schema.hpp"

namespace lumbung::core {

enum class NodeKind {
  kLiteral,
  kColumn,
  kNegate,
  kNot,
  kAnd,
  kOr,
  kCompare,  // name: "=", "<>", "<", "<=", ">", ">="
  kArith,    // name: "+", "-", "*", "/"
  kConcat,
  kIsNull,   // negated: IS NOT NULL
  kIn,       // args: operand, then the literals
  kBetween,  // args: operand, low, high
  kLike,
  kGlob,
  kFunction,  // name: the function, lower case
};

struct ExprNode {
  NodeKind kind;
  std::string name;      // operator, column or function
  bool negated = false;  // NOT IN, NOT BETWEEN, NOT LIKE, NOT GLOB, IS NOT NULL
  Value literal;
  std::vector<std::shared_ptr<const ExprNode>> args;
  int height = 1;  // of the tree below, bounded so that rendering and evaluation cannot overflow
  std::size_t offset = 0;  // of the operator in the text (AND, OR, NOT)
};

namespace {

using NodePtr = std::shared_ptr<const ExprNode>;

// A hostile file must not overflow the stack: parentheses and prefixes nest at
// most kMaxDepth deep, and no tree (also "a + a + a ...") is taller than kMaxHeight.
constexpr int kMaxDepth = 64;
constexpr int kMaxHeight = 256;

// ---------------------------------------------------------------------------
// Tokens

enum class Tok { kEnd, kInteger, kReal, kString, kIdent, kQuotedIdent, kOp };

struct Token {
  Tok kind;
  std::string text;  // unescaped for strings and quoted identifiers
  std::size_t offset;
};

struct ParseError {
  std::size_t offset;
  std::string message;
};

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c); }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// A character for a message: printable ASCII as is, anything else as \xNN.
std::string shown_char(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, c);
  return "\\x" + to_hex(&c, 1);
}

// Reads a quoted run starting at text[pos] == quote; a doubled quote is one.
std::string read_quoted(std::string_view text, std::size_t& pos, const char* what) {
  const std::size_t start = pos;
  std::string out;
  for (++pos; pos < text.size(); ++pos) {
    if (text[pos] == '\0') throw ParseError{pos, "NUL character in " + std::string(what)};
    if (text[pos] != text[start]) {
      out += text[pos];
    } else if (pos + 1 < text.size() && text[pos + 1] == text[start]) {
      out += text[pos++];
    } else {
      ++pos;
      return out;
    }
  }
  throw ParseError{start, "unterminated " + std::string(what)};
}

std::vector<Token> tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    const std::size_t start = pos;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
      ++pos;
    } else if (is_digit(c) || (c == '.' && pos + 1 < text.size() && is_digit(text[pos + 1]))) {
      bool real = false;
      while (pos < text.size() && is_digit(text[pos])) ++pos;
      if (pos < text.size() && text[pos] == '.') {
        real = true;
        ++pos;
        while (pos < text.size() && is_digit(text[pos])) ++pos;
      }
      if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
        real = true;
        ++pos;
        if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) ++pos;
        if (pos >= text.size() || !is_digit(text[pos])) throw ParseError{start, "malformed number"};
        while (pos < text.size() && is_digit(text[pos])) ++pos;
      }
      if (pos < text.size() && (is_ident_char(text[pos]) || text[pos] == '.')) {
        throw ParseError{start, "malformed number"};
      }
      tokens.push_back(
          {real ? Tok::kReal : Tok::kInteger, std::string(text.substr(start, pos - start)), start});
    } else if (is_ident_start(c)) {
      while (pos < text.size() && is_ident_char(text[pos])) ++pos;
      tokens.push_back({Tok::kIdent, std::string(text.substr(start, pos - start)), start});
    } else if (c == '\'') {
      tokens.push_back({Tok::kString, read_quoted(text, pos, "string"), start});
    } else if (c == '"') {
      tokens.push_back({Tok::kQuotedIdent, read_quoted(text, pos, "quoted name"), start});
    } else {
      static constexpr std::string_view kTwo[] = {"==", "!=", "<>", "<=", ">=", "||"};
      static constexpr std::string_view kOne = "=<>+-*/(),";
      std::string_view two = text.substr(pos, 2);
      bool found = false;
      for (std::string_view op : kTwo) {
        if (two == op) {
          tokens.push_back({Tok::kOp, std::string(op), start});
          pos += 2;
          found = true;
          break;
        }
      }
      if (found) continue;
      if (two == "--" || two == "/*") throw ParseError{start, "comments are not allowed"};
      if (kOne.find(c) == std::string_view::npos) {
        throw ParseError{start, "unexpected character '" + shown_char(c) + "'"};
      }
      tokens.push_back({Tok::kOp, std::string(1, c), start});
      ++pos;
    }
  }
  tokens.push_back({Tok::kEnd, "", text.size()});
  return tokens;
}

// ---------------------------------------------------------------------------
// Parser: recursive descent with SQLite's precedence, lowest first:
// OR; AND; NOT; = == != <> IS IN BETWEEN LIKE GLOB; < <= > >=; + -; * /; ||; unary -.

struct Function {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
};
constexpr Function kFunctions[] = {{"length", 1, 1}, {"lower", 1, 1}, {"upper", 1, 1},
                                   {"typeof", 1, 1}, {"abs", 1, 1},   {"substr", 2, 3}};

// Words of the grammar: never column names unless double-quoted.
bool is_keyword(std::string_view word) {
  static constexpr std::string_view kWords[] = {"and", "or",      "not",  "is",  "null",
                                                "in",  "between", "like", "glob"};
  for (std::string_view k : kWords) {
    if (word == k) return true;
  }
  return false;
}

// SQL an author may try that this language deliberately leaves out.
bool is_unsupported_sql(std::string_view word) {
  static constexpr std::string_view kWords[] = {"select",  "exists", "case",   "cast",
                                                "collate", "escape", "regexp", "match"};
  for (std::string_view k : kWords) {
    if (word == k) return true;
  }
  return false;
}

NodePtr make_literal(Value v) {
  auto node = std::make_shared<ExprNode>();
  node->kind = NodeKind::kLiteral;
  node->literal = std::move(v);
  return node;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const std::vector<std::string>& columns,
         const std::vector<std::string>& blob_columns)
      : tokens_(std::move(tokens)), columns_(columns), blob_columns_(blob_columns) {}

  NodePtr parse_all() {
    NodePtr root = parse_or();
    if (peek().kind != Tok::kEnd) unexpected();
    check_conditions(*root, true);
    return root;
  }

 private:
  // Counts nesting on the way down, so that "((((..." fails cleanly.
  class Depth {
   public:
    explicit Depth(Parser& p) : p_(p) {
      if (++p_.depth_ > kMaxDepth) {
        throw ParseError{p_.peek().offset, "expression nested too deeply"};
      }
    }
    ~Depth() { --p_.depth_; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;

   private:
    Parser& p_;
  };

  const Token& peek(std::size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool is_op(std::string_view op, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kOp && peek(ahead).text == op;
  }
  bool is_word(std::string_view word) const {
    return peek().kind == Tok::kIdent && lower(peek().text) == word;
  }
  bool accept_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool accept_word(std::string_view word) {
    if (!is_word(word)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) unexpected("expected '" + std::string(op) + "'");
  }

  [[noreturn]] void unexpected(const std::string& expected = "") const {
    const Token& t = peek();
    const std::string got = t.kind == Tok::kEnd ? "end of expression" : token_text(t);
    throw ParseError{t.offset, expected.empty() ? "unexpected " + got : expected + ", got " + got};
  }

  std::shared_ptr<ExprNode> make(NodeKind kind, std::string name, std::vector<NodePtr> args,
                                 bool negated = false) {
    auto node = std::make_shared<ExprNode>();
    node->kind = kind;
    node->name = std::move(name);
    node->negated = negated;
    for (const NodePtr& a : args) node->height = std::max(node->height, a->height + 1);
    if (node->height > kMaxHeight) throw ParseError{peek().offset, "expression too long"};
    node->args = std::move(args);
    return node;
  }

  // A token as a message shows it: quoted as in the text, words in single quotes.
  static std::string token_text(const Token& t) {
    return t.kind == Tok::kQuotedIdent ? "\"" + t.text + "\"" : "'" + t.text + "'";
  }

  NodePtr parse_or() {
    Depth depth(*this);
    NodePtr left = parse_and();
    while (is_word("or")) {
      const std::size_t at = next().offset;
      auto node = make(NodeKind::kOr, "OR", {left, parse_and()});
      node->offset = at;
      left = node;
    }
    return left;
  }

  NodePtr parse_and() {
    NodePtr left = parse_not();
    while (is_word("and")) {
      const std::size_t at = next().offset;
      auto node = make(NodeKind::kAnd, "AND", {left, parse_not()});
      node->offset = at;
      left = node;
    }
    return left;
  }

  NodePtr parse_not() {
    if (!is_word("not")) return parse_equality();
    const std::size_t at = next().offset;
    Depth depth(*this);
    auto node = make(NodeKind::kNot, "NOT", {parse_not()});
    node->offset = at;
    return node;
  }

  // AND, OR and NOT may only combine conditions (the CHECK itself and their
  // own operands). As values, "0.5 AND 1" is 0 in SQLite 3.15 (SQLCipher)
  // and 1 in 3.40, and a CHECK must mean the same on every device.
  static void check_conditions(const ExprNode& n, bool condition) {
    const bool logical =
        n.kind == NodeKind::kAnd || n.kind == NodeKind::kOr || n.kind == NodeKind::kNot;
    if (logical && !condition) {
      throw ParseError{n.offset, n.name + " can only combine conditions, not be used as a value"};
    }
    for (const NodePtr& a : n.args) check_conditions(*a, logical);
  }

  NodePtr parse_equality() {
    NodePtr left = parse_relational();
    for (;;) {
      if (is_op("=") || is_op("==") || is_op("!=") || is_op("<>")) {
        const std::string op = next().text;
        const bool equal = op == "=" || op == "==";
        left = make(NodeKind::kCompare, equal ? "=" : "<>", {left, parse_relational()});
      } else if (accept_word("is")) {
        const bool negated = accept_word("not");
        if (!accept_word("null"))
          unexpected(negated ? "expected NULL" : "expected NULL or NOT NULL");
        left = make(NodeKind::kIsNull, "IS NULL", {left}, negated);
      } else if (is_word("in") || is_word("between") || is_word("like") || is_word("glob") ||
                 (is_word("not") && peek(1).kind == Tok::kIdent)) {
        const bool negated = accept_word("not");
        if (accept_word("in")) {
          left = parse_in_list(left, negated);
        } else if (accept_word("between")) {
          NodePtr low = parse_relational();
          if (!accept_word("and")) unexpected("expected AND");
          left = make(NodeKind::kBetween, "BETWEEN", {left, low, parse_relational()}, negated);
        } else if (is_word("like") || is_word("glob")) {
          left = parse_match(left, negated);
        } else {
          unexpected("expected IN, BETWEEN, LIKE or GLOB after NOT");
        }
      } else {
        return left;
      }
    }
  }

  NodePtr parse_match(NodePtr operand, bool negated) {
    const Token& op = next();
    const bool like = lower(op.text) == "like";
    NodePtr pattern = parse_relational();
    for (const NodePtr& side : {operand, pattern}) {
      if (may_be_blob(*side)) {
        throw ParseError{op.offset, std::string(like ? "LIKE" : "GLOB") +
                                        " cannot match a blob (SQLite versions differ)"};
      }
    }
    return make(like ? NodeKind::kLike : NodeKind::kGlob, like ? "LIKE" : "GLOB",
                {operand, pattern}, negated);
  }

  // Blobs come only from blob columns, directly or through substr().
  bool may_be_blob(const ExprNode& n) const {
    if (n.kind == NodeKind::kColumn) {
      return std::find(blob_columns_.begin(), blob_columns_.end(), n.name) != blob_columns_.end();
    }
    return n.kind == NodeKind::kFunction && n.name == "substr" && may_be_blob(*n.args[0]);
  }

  NodePtr parse_in_list(NodePtr operand, bool negated) {
    expect_op("(");
    std::vector<NodePtr> args{std::move(operand)};
    if (is_op(")")) unexpected("expected a literal");
    do {
      args.push_back(parse_literal());
    } while (accept_op(","));
    expect_op(")");
    return make(NodeKind::kIn, "IN", std::move(args), negated);
  }

  // A literal in an IN list: a number (optionally negative), a string or NULL.
  NodePtr parse_literal() {
    const bool minus = is_op("-");
    if (minus) next();
    const Token& t = peek();
    if (t.kind == Tok::kInteger || t.kind == Tok::kReal) return number(next(), minus);
    if (!minus && t.kind == Tok::kString) return make_literal(Value(next().text));
    if (!minus && accept_word("null")) return make_literal(Value());
    unexpected("expected a literal");
  }

  NodePtr parse_relational() {
    NodePtr left = parse_additive();
    while (is_op("<") || is_op("<=") || is_op(">") || is_op(">=")) {
      std::string op = next().text;
      left = make(NodeKind::kCompare, std::move(op), {left, parse_additive()});
    }
    return left;
  }

  NodePtr parse_additive() {
    NodePtr left = parse_multiplicative();
    while (is_op("+") || is_op("-")) {
      std::string op = next().text;
      left = make(NodeKind::kArith, std::move(op), {left, parse_multiplicative()});
    }
    return left;
  }

  NodePtr parse_multiplicative() {
    NodePtr left = parse_concat();
    while (is_op("*") || is_op("/")) {
      std::string op = next().text;
      left = make(NodeKind::kArith, std::move(op), {left, parse_concat()});
    }
    return left;
  }

  NodePtr parse_concat() {
    NodePtr left = parse_unary();
    while (accept_op("||")) left = make(NodeKind::kConcat, "||", {left, parse_unary()});
    return left;
  }

  // A minus before a number makes a negative literal (also "-(1.5)", so that
  // rendering reads back as itself); before anything else, a negation.
  NodePtr parse_unary() {
    if (!accept_op("-")) return parse_primary();
    if (peek().kind == Tok::kInteger || peek().kind == Tok::kReal) return number(next(), true);
    Depth depth(*this);
    NodePtr operand = parse_unary();
    const Value& v = operand->literal;
    if (operand->kind == NodeKind::kLiteral && v.type() == ValueType::kReal) {
      return make_literal(Value(-v.as_real()));
    }
    if (operand->kind == NodeKind::kLiteral && v.type() == ValueType::kInteger &&
        v.as_integer() != std::numeric_limits<std::int64_t>::min()) {
      return make_literal(Value(-v.as_integer()));
    }
    return make(NodeKind::kNegate, "-", {operand});
  }

  NodePtr parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kInteger:
      case Tok::kReal:
        return number(next(), false);
      case Tok::kString:
        return make_literal(Value(next().text));
      case Tok::kQuotedIdent:
        return column(next());
      case Tok::kIdent:
        break;
      case Tok::kOp:
        if (accept_op("(")) {
          NodePtr inner = parse_or();
          expect_op(")");
          return inner;
        }
        unexpected();
      case Tok::kEnd:
        unexpected();
    }
    const std::string word = lower(t.text);
    if (word == "null") {
      next();
      return make_literal(Value());
    }
    if (is_op("(", 1)) return function(next());
    if (is_keyword(word)) unexpected();
    if (is_unsupported_sql(word)) {
      throw ParseError{t.offset, "'" + t.text + "' is not supported in a CHECK"};
    }
    return column(next());
  }

  NodePtr function(const Token& name_token) {
    const std::string name = lower(name_token.text);
    const Function* fn = nullptr;
    for (const Function& f : kFunctions) {
      if (f.name == name) fn = &f;
    }
    if (fn == nullptr) {
      throw ParseError{name_token.offset, "unknown function '" + name_token.text + "'"};
    }
    expect_op("(");
    std::vector<NodePtr> args;
    if (!is_op(")")) {
      do {
        args.push_back(parse_or());
      } while (accept_op(","));
    }
    expect_op(")");
    if (args.size() < fn->min_args || args.size() > fn->max_args) {
      std::string arity = std::to_string(fn->min_args);
      if (fn->max_args != fn->min_args) arity += " or " + std::to_string(fn->max_args);
      throw ParseError{name_token.offset,
                       name + "() takes " + arity + " argument" + (fn->max_args == 1 ? "" : "s")};
    }
    return make(NodeKind::kFunction, name, std::move(args));
  }

  // SQLite matches column names case-insensitively.
  NodePtr column(const Token& t) {
    const std::string name = lower(t.text);
    for (const std::string& c : columns_) {
      if (c == name) return make(NodeKind::kColumn, c, {});
    }
    throw ParseError{t.offset, "unknown column '" + t.text + "'"};
  }

  static NodePtr number(const Token& t, bool negative) {
    const std::string text = negative ? "-" + t.text : t.text;
    if (t.kind == Tok::kInteger) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) {
        throw ParseError{t.offset, "integer literal out of range: " + text};
      }
      return make_literal(Value(v));
    }
    double v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) {
      throw ParseError{t.offset, "real literal out of range: " + text};
    }
    return make_literal(Value(v));
  }

  std::vector<Token> tokens_;
  const std::vector<std::string>& columns_;
  const std::vector<std::string>& blob_columns_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

// ---------------------------------------------------------------------------
// Rendering

// How render() writes an IN list.
enum class InLists {
  kAsWritten,
  // More than two values as comparisons joined by OR, which SQLite defines
  // IN to be ("a IN (x, y, z)" is "a = +x OR a = +y OR a = +z": a literal has
  // no affinity): for a constant list of more than two values SQLite builds a
  // table at each run of the statement, so at each row a table's CHECK judges.
  kAsComparisons,
};

std::string render(const ExprNode& n, InLists lists) {
  const auto arg = [&](std::size_t i) { return render(*n.args[i], lists); };
  const std::string negation = n.negated ? "NOT " : "";
  switch (n.kind) {
    case NodeKind::kLiteral:
      return sql_literal(n.literal);  // shortest reals; no blobs in the grammar
    case NodeKind::kColumn:
      return quote_identifier(n.name);
    case NodeKind::kNegate:
      return "(- " + arg(0) + ")";  // the space keeps "- -x" from becoming a "--" comment
    case NodeKind::kNot:
      return "(NOT " + arg(0) + ")";
    case NodeKind::kAnd:
    case NodeKind::kOr:
    case NodeKind::kCompare:
    case NodeKind::kArith:
    case NodeKind::kConcat:
      return "(" + arg(0) + " " + n.name + " " + arg(1) + ")";
    case NodeKind::kIsNull:
      return "(" + arg(0) + (n.negated ? " IS NOT NULL)" : " IS NULL)");
    case NodeKind::kIn: {
      if (lists == InLists::kAsComparisons && n.args.size() > 3) {
        const std::string value = arg(0);
        std::string any;
        for (std::size_t i = 1; i < n.args.size(); ++i) {
          any += (i > 1 ? " OR " : "") + value + " = " + arg(i);
        }
        return n.negated ? "(NOT (" + any + "))" : "(" + any + ")";
      }
      std::string list;
      for (std::size_t i = 1; i < n.args.size(); ++i) list += (i > 1 ? ", " : "") + arg(i);
      return "(" + arg(0) + " " + negation + "IN (" + list + "))";
    }
    case NodeKind::kBetween:
      return "(" + arg(0) + " " + negation + "BETWEEN " + arg(1) + " AND " + arg(2) + ")";
    case NodeKind::kLike:
    case NodeKind::kGlob:
      return "(" + arg(0) + " " + negation + n.name + " " + arg(1) + ")";
    case NodeKind::kFunction: {
      std::string list;
      for (std::size_t i = 0; i < n.args.size(); ++i) list += (i > 0 ? ", " : "") + arg(i);
      return n.name + "(" + list + ")";
    }
  }
  return "";
}

}  // namespace

namespace {

// The columns `n` names, each once, in the order they first appear.
void add_columns(const ExprNode& n, std::vector<std::string>* columns) {
  if (n.kind == NodeKind::kColumn &&
      std::find(columns->begin(), columns->end(), n.name) == columns->end()) {
    columns->push_back(n.name);
  }
  for (const NodePtr& arg : n.args) add_columns(*arg, columns);
}

}  // namespace

Result<CheckExpr> CheckExpr::parse(std::string_view text, const std::vector<std::string>& columns,
                                   const std::vector<std::string>& blob_columns) {
  try {
    Parser parser(tokenize(text), columns, blob_columns);
    CheckExpr expr;
    const NodePtr root = parser.parse_all();
    expr.sql_ = render(*root, InLists::kAsWritten);
    expr.table_sql_ = render(*root, InLists::kAsComparisons);
    add_columns(*root, &expr.columns_);
    expr.source_ = std::string(text);
    return expr;
  } catch (const ParseError& e) {
    return Status(ErrorCode::kSchemaInvalid,
                  "at offset " + std::to_string(e.offset) + ": " + e.message);
  }
}

}  // namespace lumbung::core
